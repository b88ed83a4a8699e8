-- want: call
-- a giant table at call: a loop appending forever
return {
  item = {
    ttl = function(call, value)
      local t = {}
      for i = 1, 1e9 do t[i] = { value } end
      return #t
    end,
  },
}

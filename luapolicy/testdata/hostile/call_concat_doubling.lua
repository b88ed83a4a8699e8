-- want: call
-- a giant string at call by doubling a key with .. forty times
return {
  item = {
    ttl = function(call, value)
      local s = value
      for i = 1, 40 do s = s .. s end
      return #s
    end,
  },
}

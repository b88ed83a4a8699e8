-- want: call
-- a giant table at call in one instruction: a store far past the array's end (1.5M slots, 24 MB per call)
return {
  user = {
    key = function(call)
      local t = {}
      t[1500000] = call.args[1]
      return nil
    end,
  },
}

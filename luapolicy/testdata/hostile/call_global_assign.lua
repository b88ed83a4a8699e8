-- want: call
-- assigns a global at call time to keep state between calls
return {
  user = {
    key = function(call)
      hits = (hits or 0) + 1
      return "u:" .. call.args[1]
    end,
  },
}

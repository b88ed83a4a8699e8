-- want: call
-- tampers with the string metatable at call
return {
  user = {
    key = function(call)
      local mt = getmetatable("")
      mt.__index = function(s, k) return function() return "owned" end end
      return ("x"):upper()
    end,
  },
}

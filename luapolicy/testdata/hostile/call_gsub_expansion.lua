-- want: call
-- a giant string via gsub expansion at call
return {
  user = {
    key = function(call)
      local s = ("x"):rep(4096)
      return (s:gsub("x", ("%0"):rep(4096)))
    end,
  },
}

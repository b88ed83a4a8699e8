-- want: call
-- a giant string via string.format at call: 2,000 directives of a four-digit width (20 MB per call)
local f = ("%9999d"):rep(2000)
local ones = ("1"):rep(2000)
return {
  user = {
    key = function(call)
      local s = string.format(f, string.byte(ones, 1, -1))
      return nil
    end,
  },
}

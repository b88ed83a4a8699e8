-- want: call
-- an __index loop at call: a metatable chain that leads back to itself, and a recursive __index function
local a, b = {}, {}
setmetatable(a, { __index = b })
setmetatable(b, { __index = a })
local f = setmetatable({}, { __index = function(t, k) return t[k .. "x"] end })
return {
  user = { key = function(call) return a.key end },
  item = { bypass = function(call) return f.bypass end },
}

-- want: call
-- a __concat metamethod loop at call
local mt = {}
mt.__concat = function(a, b) return b .. a end
return { user = { key = function(call) return setmetatable({}, mt) .. call.args[1] end } }

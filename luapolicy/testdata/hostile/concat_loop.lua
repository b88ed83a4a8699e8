-- want: load
-- a __concat metamethod that concatenates its own operands again
local mt = {}
mt.__concat = function(a, b) return a .. b end
local t = setmetatable({}, mt)
return { user = { ttl = 60, version = t .. "v" } }

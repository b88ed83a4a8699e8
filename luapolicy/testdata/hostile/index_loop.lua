-- want: load
-- an __index metamethod that recurses forever
local t = setmetatable({}, { __index = function(t, k) return t[k] end })
return { user = { ttl = t.ttl } }

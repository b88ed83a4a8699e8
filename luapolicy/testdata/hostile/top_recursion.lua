-- want: load
-- deep non-tail recursion at top level
local function depth(n) return 1 + depth(n + 1) end
return { user = { ttl = depth(1) } }

-- want: load
-- a giant string via string.rep (4 GiB) at top level, as a method call
local s = ("x"):rep(2^32)
return { user = { ttl = #s } }

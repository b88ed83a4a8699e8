-- want: load
-- a runtime error at top level: indexing nil while building the policies
local cfg = nil
return { user = { ttl = cfg.ttl } }

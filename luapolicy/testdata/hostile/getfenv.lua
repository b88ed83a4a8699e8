-- want: load
-- reads the caller's environment with getfenv
local env = getfenv(0)
return { user = { ttl = 60, version = tostring(env) } }

-- want: load
-- swaps a function's environment with setfenv to reach hidden globals
local f = function() return os end
setfenv(f, { os = "x" })
return { user = { ttl = 60 } }

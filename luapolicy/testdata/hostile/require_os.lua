-- want: load
-- loads the os library back with require
local os = require("os")
return { user = { ttl = os.time() } }

-- want: load
-- reads a file through io.open
local f = io.open("/etc/passwd")
return { user = { ttl = #f:read("*a") } }

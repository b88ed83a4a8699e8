-- want: load
-- makes a userdata with newproxy
local p = newproxy(true)
return { user = { ttl = 60 } }

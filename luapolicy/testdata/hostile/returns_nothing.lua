-- want: load
-- the script returns nothing
local P = { user = { ttl = 60 } }

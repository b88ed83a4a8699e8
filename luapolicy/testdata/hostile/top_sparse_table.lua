-- want: load
-- a giant table in one instruction: a store far past the array's end fills the gap (3M slots, 48 MB)
local t = {}
t[3000000] = true
return { user = { ttl = 60 } }

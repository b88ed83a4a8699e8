-- want: load
-- a giant string via table.concat of a table repeating one 512 KiB string 100,000 times
local big = string.rep("x", 2^19)
local t = {}
for i = 1, 100000 do t[i] = big end
return { user = { ttl = #table.concat(t) } }

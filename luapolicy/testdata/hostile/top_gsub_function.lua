-- want: load
-- a giant string via gsub with a function replacement returning 512 KiB per match
local chunk = ("y"):rep(2^19)
local r = ("x"):rep(10000):gsub(".", function() return chunk end)
return { user = { ttl = #r } }

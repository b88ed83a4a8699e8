-- want: load
-- a giant table at top level: a billion elements
local t = {}
for i = 1, 1e9 do t[i] = { i } end
return { user = { ttl = #t } }

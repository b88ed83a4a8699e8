-- want: load
-- a giant string by doubling it with .. forty times (a terabyte)
local s = "x"
for i = 1, 40 do s = s .. s end
return { user = { ttl = #s } }

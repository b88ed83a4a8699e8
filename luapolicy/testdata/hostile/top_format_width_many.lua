-- want: load
-- a giant string via string.format: 2,500 directives of a four-digit width (25 MB from a 15 KB format)
local s = string.format(("%9999d"):rep(2500), string.byte(("1"):rep(2500), 1, -1))
return { user = { ttl = #s } }

-- want: load
-- a giant string via string.format with a nine-digit width
return { user = { ttl = #string.format("%099999999d", 1) } }

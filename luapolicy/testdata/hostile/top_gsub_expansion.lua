-- want: load
-- a giant string via gsub: every character of 64 KiB replaced by 64 KiB copies of the whole match
local s = ("x"):rep(2^16)
local r = s:gsub(".", ("%0"):rep(2^16))
return { user = { ttl = #r } }

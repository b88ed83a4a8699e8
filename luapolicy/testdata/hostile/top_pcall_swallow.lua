-- want: load
-- one infinite loop inside pcall, then carry on as if the timeout had not happened
local ok = pcall(function() while true do end end)
return { user = { ttl = ok and 60 or 30 } }

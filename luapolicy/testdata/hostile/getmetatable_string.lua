-- want: load
-- tampers with the string metatable so that every string method runs its own code
getmetatable("").__index = function(s, k) while true do end end
return { user = { ttl = 60 } }

-- want: load
-- yields from a coroutine to escape the deadline
local co = coroutine.wrap(function() while true do coroutine.yield() end end)
co()
return { user = { ttl = 60 } }

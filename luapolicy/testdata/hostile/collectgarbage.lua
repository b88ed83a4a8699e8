-- want: load
-- stops the collector of the whole process
collectgarbage("stop")
return { user = { ttl = 60 } }

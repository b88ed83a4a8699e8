-- want: load
-- an infinite loop at top level
while true do end
return { user = { ttl = 60 } }

-- want: load
-- math.random(0) makes Go's rand.Intn panic inside the VM
return { user = { ttl = math.random(0) } }

-- want: load
-- a policy that is a string, and a policy keyed by a number
return { user = "1m", [1] = { ttl = 60 } }

-- want: load
-- static settings of the wrong type or range: a negative ttl, jitter over 100%, a string key
return { user = { ttl = -5, jitter = "250%", key = "u" } }

-- want: load
-- string.byte of a 1 MiB string: a million values pushed on the stack
return { user = { ttl = select("#", string.byte(("x"):rep(2^20), 1, -1)) } }

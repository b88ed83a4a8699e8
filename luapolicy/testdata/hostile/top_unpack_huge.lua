-- want: load
-- unpack of a huge range: a hundred million values pushed on the stack
return { user = { ttl = select("#", unpack({}, 1, 1e8)) } }

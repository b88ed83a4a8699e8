-- want: load
-- compiles code at run time with loadstring
return loadstring("return { user = { ttl = 60 } }")()

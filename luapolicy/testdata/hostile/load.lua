-- want: load
-- compiles code at run time with load and a reader function
local done = false
return load(function() if done then return nil end done = true return "return { user = { ttl = 60 } }" end)()

-- want: load
-- a pattern that backtracks in O(n^4) inside one string.find call (no VM instruction runs meanwhile)
local n = ("a"):rep(100):find(".-.-.-b")
return { user = { ttl = 60 } }

-- want: load
-- exponential recursion through pcall: every level catches its child's stack overflow and tries again
local function f() pcall(f); pcall(f) end
f()
return { user = { ttl = 60 } }

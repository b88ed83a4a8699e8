-- want: load
-- a syntax error: the policies table is never closed
return {
  user = { ttl = "1m" },

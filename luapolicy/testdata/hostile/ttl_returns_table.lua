-- want: call
-- ttl returns a table
return { item = { ttl = function(call, value) return { seconds = 60 } end } }

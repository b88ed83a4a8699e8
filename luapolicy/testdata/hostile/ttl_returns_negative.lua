-- want: call
-- ttl returns a negative number of seconds
return { item = { ttl = function(call, value) return -call.args[1] - 1 end } }

-- want: call
-- unpack of a huge range at call
return { user = { key = function(call) return select("#", unpack(call.args, 1, 1e8)) end } }

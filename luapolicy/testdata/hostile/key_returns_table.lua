-- want: call
-- key returns a table
return { user = { key = function(call) return { call.args[1] } end } }

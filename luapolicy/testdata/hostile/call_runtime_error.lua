-- want: call
-- a runtime error at call: indexing a field of the numeric argument
return { user = { key = function(call) return call.args[1].id.name end } }

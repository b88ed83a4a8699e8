-- want: call
-- math.random with an empty range makes Go's rand.Intn panic inside the VM at call
return { user = { key = function(call) return "u:" .. math.random(call.args[1], 0) end } }

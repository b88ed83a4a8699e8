-- want: call
-- bypass returns a number
return { user = { bypass = function(call) return 1 end } }

-- want: call
-- key returns an empty string
return { user = { key = function(call) return "" end } }

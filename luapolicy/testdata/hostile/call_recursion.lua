-- want: call
-- deep non-tail recursion at call
local function depth(n) return 1 + depth(n + 1) end
return { user = { key = function(call) return "u:" .. depth(call.args[1]) end } }

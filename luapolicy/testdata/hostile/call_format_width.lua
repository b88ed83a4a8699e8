-- want: call
-- a giant string via string.format with a nine-digit width at call
return { user = { key = function(call) return string.format("%099999999d", call.args[1]) end } }

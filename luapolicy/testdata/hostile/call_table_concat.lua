-- want: call
-- a giant string at call via table.concat of one 512 KiB string repeated
local big = ("x"):rep(2^19)
local t = { big, big, big, big, big, big, big, big, big, big, big, big, big, big, big, big }
return { user = { key = function(call) return table.concat(t, tostring(call.args[1])) end } }

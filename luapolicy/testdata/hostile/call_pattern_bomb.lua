-- want: call
-- a backtracking pattern at call: O(n^4) inside one string.find call
local s = ("a"):rep(50)
return { user = { key = function(call) return s:find(".-.-.-b") end } }

-- want: call
-- a giant string via string.rep at call (a gigabyte per call)
return { user = { key = function(call) return string.rep("k", 2^30) end } }

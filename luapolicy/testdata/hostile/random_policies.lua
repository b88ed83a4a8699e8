-- want: load
-- returns different policies on each top-level run (math.random): a key function on some runs, a bypass function on others
local P = { user = { ttl = 60 } }
if math.random() < 0.5 then
  P.user.key = function(call) return nil end
else
  P.user.bypass = function(call) return false end
end
return P

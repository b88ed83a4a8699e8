-- want: load
-- an infinite loop in xpcall whose error handler loops too (and retries in a loop)
while true do
  xpcall(function() while true do end end, function(e) while true do end end)
end
return { user = { ttl = 60 } }

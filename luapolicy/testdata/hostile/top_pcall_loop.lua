-- want: load
-- an infinite loop inside pcall, itself in a loop, trying to swallow the load timeout
while true do
  pcall(function() while true do end end)
end
return { user = { ttl = 60 } }

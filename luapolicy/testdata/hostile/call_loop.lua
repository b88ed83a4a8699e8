-- want: call
-- an infinite loop in key, bypass and ttl
return {
  user = { key = function(call) while true do end end },
  item = {
    bypass = function(call) while true do end end,
    ttl = function(call, value) while true do end end,
  },
}

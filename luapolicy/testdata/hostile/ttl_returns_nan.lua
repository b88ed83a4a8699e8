-- want: call
-- ttl returns NaN, infinity and an unparsable string
return {
  user = { ttl = function(call, value) return 0 / 0 end },
  item = { ttl = function(call, value) if call.args[1] % 2 == 0 then return 1 / 0 end return "soon" end },
}

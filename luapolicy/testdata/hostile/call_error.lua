-- want: call
-- error() at call, with a table value, from bypass and from ttl
return {
  user = { bypass = function(call) error({ code = 42 }) end },
  item = { ttl = function(call, value) error("refusing " .. value) end },
}

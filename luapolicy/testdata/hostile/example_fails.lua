-- want: load
-- an example whose key function answers something else
return {
  user = {
    key = function(call) return "user:" .. call.args[1] end,
    examples = { { args = { 7 }, key = "u:7" } },
  },
}

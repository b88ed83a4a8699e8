-- want: load
-- examples whose functions fail: a ttl that loops forever, a bypass that errors
return {
  user = {
    ttl = function(call, value) while true do end end,
    examples = { { args = { 7 }, value = "v", ttl = 60 } },
  },
  item = {
    bypass = function(call) error("no") end,
    examples = { { args = { 1 }, bypass = false } },
  },
}

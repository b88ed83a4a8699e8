-- want: call
-- an infinite loop inside pcall, itself in a loop, trying to swallow the call timeout
return {
  user = {
    key = function(call)
      while true do pcall(function() while true do end end) end
    end,
  },
}

-- want: call
-- a loop in xpcall whose error handler loops and retries
return {
  user = {
    key = function(call)
      while true do
        xpcall(function() while true do end end, function(e) while true do end end)
      end
    end,
  },
}

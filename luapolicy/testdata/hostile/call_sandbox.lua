-- want: call
-- reaches for os, io, require, loadstring, debug and coroutine at call
return {
  user = {
    key = function(call)
      local n = call.args[1]
      if n % 6 == 0 then return os.getenv("HOME") end
      if n % 6 == 1 then return io.open("/etc/passwd"):read("*a") end
      if n % 6 == 2 then return require("os").getenv("HOME") end
      if n % 6 == 3 then return loadstring("return 'k'")() end
      if n % 6 == 4 then return debug.getinfo(1).source end
      return coroutine.wrap(function() return "k" end)()
    end,
  },
}

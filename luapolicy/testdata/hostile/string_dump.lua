-- want: load
-- dumps a function's bytecode with string.dump
return { user = { ttl = #string.dump(function() end) } }

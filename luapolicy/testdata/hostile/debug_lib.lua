-- want: load
-- removes the instruction hook and reads the registry through the debug library
debug.sethook()
return { user = { ttl = #debug.getregistry() } }

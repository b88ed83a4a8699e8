-- want: load
-- runs a shell command through os.execute
os.execute("touch /tmp/luapolicy-hostile-pwned")
return { user = { ttl = 60 } }

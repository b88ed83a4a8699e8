-- want: load
-- the script returns a number instead of a table of policies
return 42

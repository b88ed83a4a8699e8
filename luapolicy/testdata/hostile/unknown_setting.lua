-- want: load
-- a typo in a setting name (tll)
return { user = { tll = 60 } }

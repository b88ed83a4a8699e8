-- want: load
-- reaches the preloaded libraries and native loaders through package
local os = package.loaded.os or package.loadlib("libc.so.6", "system")
return { user = { ttl = 60 } }

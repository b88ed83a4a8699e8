// Package luapolicy decides caching rules at run time from a Lua script: per function
// name (and per HTTP route) the TTL, jitter, negative TTL, stale windows, early refresh,
// whether the distributed lock is used, bypass and version, and, per call, the key from
// the arguments, bypass from the arguments and the TTL from the arguments and the loaded
// value. Operators change them by editing a file or writing one etcd key; no rebuild, no
// restart.
//
//	e, err := luapolicy.Load("policy.lua")
//	if err != nil { ... }            // file:line of what is wrong
//	defer e.Close()
//	go e.Watch(ctx)                  // or e.WatchEtcd(ctx, cli, "/config/cache-policy")
//	c := cached.New(cached.WithPolicy(e))
//
// A script returns a table of policies keyed by function name ("*" for every other
// function):
//
//	return {
//	  user = {
//	    ttl = "10m", jitter = "10%", negative_ttl = 30, lock = false,
//	    key = function(call) return "u:" .. call.args[1].id end,
//	    examples = { { args = { { id = 7 } }, key = "u:7" } },
//	  },
//	  search = { bypass = true },
//	}
//
// README.md in this directory documents every setting, what a call looks like to a script
// and the conversion of Go values, with worked examples.
//
// # Versions and reloads
//
// Each load compiles the script once to a shared FunctionProto and self-checks it in a
// fresh Lua state: the top level runs under [LoadTimeout] and the load [Memory] budget,
// every setting is validated, and each policy's examples must pass. Only then does the
// version go live, with one atomic swap. A rejected version changes nothing; its error
// says where (file:line). Calls that started on the previous version finish on it, and
// its Lua states are closed as they are returned.
//
// Static settings are compiled into Go values at load, so a function whose policy has no
// per-call function runs no Lua on its calls. Per-call functions run on a bounded pool of
// reused Lua states ([PoolSize], GOMAXPROCS by default).
//
// # Sandbox
//
// Scripts get the base, string, table and math libraries without dofile, loadfile, load,
// loadstring, require, module, collectgarbage, print, getfenv, setfenv and newproxy, and
// without string.dump: no os, io, debug, package or coroutine. A per-call run is bounded
// by [CallTimeout] (1ms), a load by [LoadTimeout] (100ms); strings a script builds by
// [MaxString] (1 MiB) before they are allocated; each run's allocations by [Memory]; the
// call stack and the value stack by fixed bounds. A run that fails (a Lua error, a wrong
// return type, a limit) makes that one call fall back to the function's own options, and
// is counted in [Engine.Stats]; the cache keeps working.
package luapolicy

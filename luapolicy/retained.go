package luapolicy

import lua "github.com/yuin/gopher-lua"

// retainedEvery is how often, in runs, a state's retained size is measured.
const retainedEvery = 1024

// retained estimates what a state keeps between calls, in bytes, walking everything
// reachable from its globals, registry, policy functions and call tables; it stops once
// the estimate passes limit. Per-call runs are bounded one by one, but a function that
// appends to a table it closes over grows its state a little on every call: measured
// every retainedEvery runs, a state that keeps more than the load's Memory budget is
// closed and replaced by a fresh one.
func (v *vm) retained(limit int64) int64 {
	roots := []lua.LValue{v.L.Get(lua.GlobalsIndex), v.L.Get(lua.RegistryIndex), v.call, v.args}
	for _, fs := range v.fns {
		for _, f := range []*lua.LFunction{fs.key, fs.bypass, fs.ttl} {
			if f != nil {
				roots = append(roots, f)
			}
		}
	}
	if v.seen == nil {
		v.seen = map[lua.LValue]bool{}
	}
	seen := v.seen
	clear(seen)
	stack := roots
	var size int64
	for len(stack) > 0 && size <= limit {
		x := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		switch x := x.(type) {
		case lua.LString:
			size += 16 + int64(len(x))
		case *lua.LTable:
			if seen[x] {
				continue
			}
			seen[x] = true
			size += 64
			x.ForEach(func(k, val lua.LValue) {
				size += 32
				stack = append(stack, k, val)
			})
			if x.Metatable != lua.LNil {
				stack = append(stack, x.Metatable)
			}
		case *lua.LFunction:
			if seen[x] {
				continue
			}
			seen[x] = true
			size += 64
			for _, uv := range x.Upvalues {
				stack = append(stack, uv.Value())
			}
			if x.Env != nil {
				stack = append(stack, x.Env)
			}
		}
	}
	return size
}

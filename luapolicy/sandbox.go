package luapolicy

import (
	lua "github.com/yuin/gopher-lua"
)

// State sizes. gopher-lua's defaults (a 256-frame call stack and a 20,480-slot registry
// allocated up front) make a state about 166 KB; policy functions are shallow, so the
// stack grows on demand to a bound that stops runaway recursion, and the registry starts
// small and may grow to a bound that stops unpack and string.byte from flooding it.
const (
	callStackSize    = 120
	registrySize     = 256
	registryMaxSize  = 4 * 1024
	registryGrowStep = 256
)

// removed are the base library's functions a policy must not reach: they read files,
// compile code at run time, inspect or change environments, print, or drive the
// collector.
var removed = []string{
	"dofile", "loadfile", "load", "loadstring", "require", "module",
	"collectgarbage", "print", "getfenv", "setfenv", "newproxy", "_printregs",
}

// newState returns a sandboxed Lua state metered by m: the base, string, table and math
// libraries only (no os, io, debug, package or coroutine), without the functions in
// removed, with string.dump gone and every string-building function bounded.
func newState(m *meter) *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrowStep,
		MinimizeStackMemory: true,
	})
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range removed {
		L.SetGlobal(name, lua.LNil)
	}
	str := L.GetGlobal("string").(*lua.LTable)
	guard(L, m, str, L.GetGlobal("table").(*lua.LTable))
	// Strings' metatable is reachable through getmetatable(""); lock it, or a script
	// could take string methods away from the calls that share its state.
	if mt, ok := L.GetMetatable(lua.LString("")).(*lua.LTable); ok {
		mt.RawSetString("__metatable", lua.LFalse)
	}
	L.SetContext(m)
	return L
}

// freezeGlobals makes assignments to new globals an error. It is called once a state has
// run its top level: a per-call function that creates a global by mistake (a missing
// local, a typo) fails loudly instead of keeping state from one call to the next. It is a
// guard against mistakes, not a wall: globals the top level made stay assignable, and
// rawset goes around it. (Read-only proxies for every global would put a metatable lookup
// on each global access of every call.)
func freezeGlobals(L *lua.LState) {
	mt := L.NewTable()
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("assignment to undeclared global %q (policy functions keep no state; use local)", lua.LVAsString(L.Get(2)))
		return 0
	}))
	mt.RawSetString("__metatable", lua.LFalse)
	L.SetMetatable(L.Get(lua.GlobalsIndex), mt)
}

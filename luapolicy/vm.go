package luapolicy

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/cachedgo/cached"
	lua "github.com/yuin/gopher-lua"
)

// vm is one pooled Lua state of a version: the script's top level has run on it once, and
// its per-call functions are looked up by policy index. A vm is used by one goroutine at a
// time.
type vm struct {
	L      *lua.LState
	m      meter
	ver    *version
	fns    []fnSet     // by policy index
	call   *lua.LTable // reused for every call: func, key, args
	args   *lua.LTable
	argn   int // how many args the last call set
	runs   uint32
	stripe uint32              // the Engine's counters this state counts on
	seen   map[lua.LValue]bool // reused by retained
	cv     converter           // reused by every run's conversions
	// loading is set while the top level runs: math.random fails then, since every
	// state of a version must build the same policies.
	loading bool
}

// fnSet is one policy's per-call functions in one state.
type fnSet struct{ key, bypass, ttl *lua.LFunction }

// runError is a failed run: the Lua message (with the script's file and line) and the
// kind, one of ErrTimeout, ErrMemory, ErrScript or ErrRejected.
type runError struct {
	kind error
	msg  string
}

func (e *runError) Error() string { return e.msg }
func (e *runError) Unwrap() error { return e.kind }

// fatal reports whether err leaves the state unfit for reuse: a limit was hit (it may
// hold the garbage of a bomb) or Go code panicked inside the VM.
func fatal(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrMemory) || errors.Is(err, errPanic)
}

// errPanic marks a run in which Go code inside the VM panicked (gopher-lua panics on some
// overflows): a script error, and one that retires the state.
var errPanic = fmt.Errorf("%w: panic in the Lua VM", ErrScript)

// newVM makes a sandboxed state and runs the script's top level on it under the load
// budget. It returns the table of policies the script returned.
func newVM(ver *version) (*vm, *lua.LTable, error) {
	v := &vm{ver: ver, stripe: ver.e.stats.next.Add(1)}
	v.m.maxStr = ver.e.cfg.maxString
	v.L = newState(&v.m)
	v.banChance()
	ret, err := v.top()
	if err != nil {
		v.L.Close()
		return nil, nil, err
	}
	v.call, v.args = v.L.NewTable(), v.L.NewTable()
	return v, ret, nil
}

// newBoundVM is newVM for a version whose policies are known: the new state's functions
// are looked up, and a state whose top level built other policies is an error.
func newBoundVM(ver *version) (*vm, error) {
	v, ret, err := newVM(ver)
	if err != nil {
		return nil, err
	}
	if err := v.bind(ver.list, ret); err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

func (v *vm) top() (*lua.LTable, error) {
	cfg := &v.ver.e.cfg
	v.m.start(context.Background(), v.ver.loadLimit(), cfg.loadMemory)
	v.loading = true
	v.L.Push(v.L.NewFunctionFromProto(v.ver.script.proto))
	err := v.pcall(0)
	v.loading = false
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	v.L.SetGlobal(catName, lua.LNil) // the chunk holds them in locals; nothing else may
	v.L.SetGlobal(indexName, lua.LNil)
	v.L.SetGlobal(lenName, lua.LNil)
	ret := v.L.Get(-1)
	v.L.SetTop(0)
	t, ok := ret.(*lua.LTable)
	if !ok {
		return nil, fmt.Errorf("%w: %s: the script must return a table of policies by function name, got %s", ErrRejected, v.ver.script.name, ret.Type())
	}
	freezeGlobals(v.L)
	return t, nil
}

// bind looks up each policy's per-call functions in ret, this state's copy of the
// policies table.
func (v *vm) bind(ps []*policy, ret *lua.LTable) error {
	v.fns = make([]fnSet, len(ps))
	for _, p := range ps {
		t, ok := ret.RawGetString(p.name).(*lua.LTable)
		if !ok {
			return fmt.Errorf("%w: %s: policy %q differs between two runs of the script's top level (it must not depend on chance)", ErrScript, v.ver.script.name, p.name)
		}
		fn := func(field string, want bool) (*lua.LFunction, error) {
			f, ok := t.RawGetString(field).(*lua.LFunction)
			if ok != want {
				return nil, fmt.Errorf("%w: %s: policy %q: %s differs between two runs of the script's top level (it must not depend on chance)", ErrScript, v.ver.script.name, p.name, field)
			}
			return f, nil
		}
		var err [3]error
		fs := &v.fns[p.idx]
		fs.key, err[0] = fn("key", p.key)
		fs.bypass, err[1] = fn("bypass", p.bypass)
		fs.ttl, err[2] = fn("ttl", p.ttl)
		if e := errors.Join(err[:]...); e != nil {
			return e
		}
	}
	return nil
}

// pcall calls the function below the top n values on the stack, leaving one result.
func (v *vm) pcall(n int) error {
	err := v.L.PCall(n, 1, nil)
	if err == nil {
		return nil
	}
	v.L.SetTop(0)
	msg := err.Error()
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		msg = lua.LVAsString(ae.Object)
		if !isStringy(ae.Object) {
			msg = fmt.Sprintf("%s: the script raised an error that is a %s, not a message", v.ver.script.name, ae.Object.Type())
		}
		if ae.Type == lua.ApiErrorPanic {
			return &runError{errPanic, msg}
		}
	}
	if v.m.err != nil {
		kind := v.m.err
		switch {
		case errors.Is(kind, ErrTimeout):
			kind = ErrTimeout
		case errors.Is(kind, ErrMemory):
			kind = ErrMemory
		}
		if !strings.Contains(msg, v.m.err.Error()) {
			msg += ": " + v.m.err.Error()
		}
		return &runError{kind, msg}
	}
	return &runError{ErrScript, msg}
}

// run calls fn with args and returns its one result.
func (v *vm) run(fn *lua.LFunction, args ...lua.LValue) (lua.LValue, error) {
	v.L.Push(fn)
	for _, a := range args {
		v.L.Push(a)
	}
	if err := v.pcall(len(args)); err != nil {
		return lua.LNil, err
	}
	ret := v.L.Get(-1)
	v.L.SetTop(0)
	return ret, nil
}

func (v *vm) bypassOf(fn *lua.LFunction, call *lua.LTable) (bool, error) {
	ret, err := v.run(fn, call)
	if err != nil {
		return false, err
	}
	switch ret {
	case lua.LTrue:
		return true, nil
	case lua.LFalse, lua.LNil:
		return false, nil
	}
	return false, &runError{ErrScript, fmt.Sprintf("%s: bypass must return a boolean, got %s", v.where(fn), ret.Type())}
}

// keyOf runs a key function: "" means the default key.
func (v *vm) keyOf(fn *lua.LFunction, call *lua.LTable) (string, error) {
	ret, err := v.run(fn, call)
	if err != nil {
		return "", err
	}
	var k string
	switch r := ret.(type) {
	case *lua.LNilType:
		return "", nil
	case lua.LString:
		k = string(r)
	case lua.LNumber:
		k = r.String()
	default:
		return "", &runError{ErrScript, fmt.Sprintf("%s: key must return a string, got %s", v.where(fn), ret.Type())}
	}
	if k == "" {
		return "", &runError{ErrScript, fmt.Sprintf("%s: key returned an empty string (return nil to keep the default key)", v.where(fn))}
	}
	if max := v.ver.e.cfg.maxKeyLen; len(k) > max {
		return "", &runError{ErrScript, fmt.Sprintf("%s: key returned %d bytes, over MaxKeyLen (%d)", v.where(fn), len(k), max)}
	}
	return k, nil
}

// ttlOf runs a ttl function: 0 means the configured TTL, a negative duration "do not
// store".
func (v *vm) ttlOf(fn *lua.LFunction, call *lua.LTable, value lua.LValue) (time.Duration, error) {
	ret, err := v.run(fn, call, value)
	if err != nil {
		return 0, err
	}
	d, err := ttlResult(ret)
	if err != nil {
		return 0, &runError{ErrScript, fmt.Sprintf("%s: ttl: %v", v.where(fn), err)}
	}
	return d, nil
}

// ttlResult reads what a ttl function returned: nil keeps the configured TTL (0), false
// or a zero duration does not store the value (-1), a positive duration is the TTL.
func ttlResult(ret lua.LValue) (time.Duration, error) {
	switch ret {
	case lua.LNil:
		return 0, nil
	case lua.LFalse:
		return -1, nil
	}
	if n, ok := ret.(lua.LNumber); ok && (float64(n) < 0 || math.IsNaN(float64(n))) {
		return 0, fmt.Errorf("must not be negative, got %v", ret)
	}
	d, err := toDuration(ret)
	if err != nil {
		return 0, fmt.Errorf("want a duration, false or nil: %v", err)
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

func describeTTL(d time.Duration) string {
	switch {
	case d == 0:
		return "nil (the configured TTL)"
	case d < 0:
		return "false (do not store)"
	}
	return d.String()
}

func (v *vm) close() { v.L.Close() }

// conv readies the state's converter for one run of p.
func (v *vm) conv(p *policy) *converter {
	v.cv = converter{L: v.L, headers: p.headers, left: maxElements, fields: &v.ver.e.fields}
	return &v.cv
}

// prepare starts a run under the call budget and fills the reused call table.
func (v *vm) prepare(ctx context.Context, p *policy, c cached.Call) (*lua.LTable, error) {
	cfg := &v.ver.e.cfg
	v.m.start(ctx, cfg.callTimeout, cfg.callMemory)
	if v.runs&7 == 0 {
		v.m.timed()
	}
	t := v.call
	t.Metatable = lua.LNil
	// A lookup is cheaper than a store (which also indexes the key for next): set only
	// what differs from the last call or what the last run changed.
	if s, ok := t.RawGetString("func").(lua.LString); !ok || string(s) != c.Func {
		t.RawSetString("func", lua.LString(c.Func))
	}
	if s, ok := t.RawGetString("key").(lua.LString); !ok || string(s) != c.Key {
		t.RawSetString("key", lua.LString(c.Key))
	}
	if a, ok := t.RawGetString("args").(*lua.LTable); !ok || a != v.args {
		t.RawSetString("args", v.args)
	}
	cv := v.conv(p)
	for i, a := range c.Args {
		lv, err := cv.value(a, 0)
		if err != nil {
			v.argn = max(v.argn, i) // args 1..i are set: the next call clears them
			return nil, fmt.Errorf("argument %d: %w", i+1, err)
		}
		v.args.RawSetInt(i+1, lv)
	}
	for i := len(c.Args) + 1; i <= v.argn; i++ {
		v.args.RawSetInt(i, lua.LNil)
	}
	v.argn = len(c.Args)
	return t, nil
}

// banChance makes math.random and math.randomseed fail while the top level runs (see
// loading); a per-call function may still sample with them.
func (v *vm) banChance() {
	math := v.L.GetGlobal("math").(*lua.LTable)
	for _, name := range []string{"random", "randomseed"} {
		fn := math.RawGetString(name).(*lua.LFunction).GFunction
		math.RawSetString(name, v.L.NewFunction(func(L *lua.LState) int {
			if v.loading {
				L.RaiseError("math.%s at the top level: every Lua state of a version must build the same policies; call it in a per-call function", name)
			}
			return fn(L)
		}))
	}
}

// where is "file:line" of the function fn's definition, for errors about its results.
func (v *vm) where(fn *lua.LFunction) string {
	if fn.Proto != nil && fn.Proto.LineDefined > 0 {
		return fmt.Sprintf("%s:%d", v.ver.script.name, fn.Proto.LineDefined)
	}
	return v.ver.script.name
}

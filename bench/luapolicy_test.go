package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
)

// The benchmarks of package luapolicy: a per-call key function through the engine against
// the same function called on bare gopher-lua, a cache hit under a static policy against
// one under none, the memory a pooled Lua state holds, and how long a policy file change
// takes to go live.

// luaKeyFn is the key function every BenchmarkLuaKey variant runs.
const luaKeyFn = `function(call) return "user:" .. call.args[1] end`

// luaArg is the call's one argument. A variable, not a constant: the bare variant converts
// it to a Lua number on every call, as the engine does, instead of the compiler doing it
// once.
var luaArg = 42

// newLuaEngine loads src as a policy script, closed when b ends.
func newLuaEngine(b *testing.B, src string, opts ...luapolicy.Option) *luapolicy.Engine {
	b.Helper()
	e, err := luapolicy.LoadString("policy.lua", src, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	return e
}

// bareKey is luaKeyFn on a bare gopher-lua state (lua.NewState's defaults: every library,
// no context, no metering), with the call table and its args table made once and reused.
type bareKey struct {
	L    *lua.LState
	fn   *lua.LFunction
	args *lua.LTable
	call *lua.LTable
}

// compileLuaKey compiles a chunk returning luaKeyFn once, for every bare state to share,
// as the engine shares one FunctionProto across its pool.
func compileLuaKey(b *testing.B) *lua.FunctionProto {
	b.Helper()
	chunk, err := parse.Parse(strings.NewReader("return "+luaKeyFn), "key.lua")
	if err != nil {
		b.Fatal(err)
	}
	proto, err := lua.Compile(chunk, "key.lua")
	if err != nil {
		b.Fatal(err)
	}
	return proto
}

func newBareKey(b *testing.B, proto *lua.FunctionProto) *bareKey {
	b.Helper()
	L := lua.NewState()
	b.Cleanup(L.Close)
	L.Push(L.NewFunctionFromProto(proto))
	if err := L.PCall(0, 1, nil); err != nil {
		b.Fatal(err)
	}
	k := &bareKey{L: L, fn: L.Get(-1).(*lua.LFunction), args: L.NewTable(), call: L.NewTable()}
	L.Pop(1)
	k.call.RawSetString("args", k.args)
	return k
}

// key runs the key function for one argument.
func (k *bareKey) key(arg int) (string, error) {
	k.args.RawSetInt(1, lua.LNumber(arg))
	k.L.Push(k.fn)
	k.L.Push(k.call)
	if err := k.L.PCall(1, 1, nil); err != nil {
		return "", err
	}
	ret := k.L.Get(-1)
	k.L.Pop(1)
	s, ok := ret.(lua.LString)
	if !ok {
		return "", fmt.Errorf("key returned %s; want a string", ret.Type())
	}
	return string(s), nil
}

// BenchmarkLuaKey is one run of a per-call key function, luaKeyFn:
//   - bare: a bare gopher-lua call on a reused state (see bareKey): push, PCall, read the
//     string, pop; the argument converted to a Lua number and set in the reused args table;
//   - engine: the same function through luapolicy, Rules("user").Decide, as cached calls
//     it on every call of the function: a state from the pool, the call table filled
//     (func, key, args), the run metered, the result checked, the state returned;
//   - bare-parallel, engine-parallel: the same from GOMAXPROCS goroutines; bare with a
//     state per goroutine, the engine with its default pool (GOMAXPROCS states).
//
// The goal is engine ≤ 1.5× bare.
func BenchmarkLuaKey(b *testing.B) {
	ctx := context.Background()
	const want = "user:42"
	proto := compileLuaKey(b)
	policy := "return { user = { key = " + luaKeyFn + " } }"
	call := cached.Call{Func: "user", Key: "42", Args: []any{luaArg}}

	b.Run("bare", func(b *testing.B) {
		k := newBareKey(b, proto)
		var got string
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if got, err = k.key(luaArg); err != nil {
				b.Fatal(err)
			}
		}
		if got != want {
			b.Fatalf("key %q; want %q", got, want)
		}
	})
	b.Run("engine", func(b *testing.B) {
		e := newLuaEngine(b, policy)
		var d cached.Decision
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if d, err = e.Rules("user").Decide(ctx, call); err != nil {
				b.Fatal(err)
			}
		}
		if d.Key != want {
			b.Fatalf("key %q; want %q", d.Key, want)
		}
	})
	b.Run("bare-parallel", func(b *testing.B) {
		// One state per goroutine, made before timing.
		states := make(chan *bareKey, runtime.GOMAXPROCS(0))
		for range cap(states) {
			states <- newBareKey(b, proto)
		}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			k := <-states
			for pb.Next() {
				got, err := k.key(luaArg)
				if err == nil && got != want {
					err = fmt.Errorf("key %q; want %q", got, want)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("engine-parallel", func(b *testing.B) {
		e := newLuaEngine(b, policy)
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				d, err := e.Rules("user").Decide(ctx, call)
				if err == nil && d.Key != want {
					err = fmt.Errorf("key %q; want %q", d.Key, want)
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		if s := e.Stats(); s.Errors != 0 {
			b.Errorf("%d failed runs: %+v", s.Errors, s)
		}
	})
}

// BenchmarkLuaStaticHit is a cache hit, one warm key read again and again, through
// cached.Wrap:
//   - none: no policy;
//   - static: cached.WithPolicy over an engine whose policy for the function has static
//     settings only (ttl and jitter), compiled into cached.Rules at load: a hit pays the
//     Rules lookup (an atomic load and a map lookup) and runs no Lua.
//
// The goal is static within 5% of none.
func BenchmarkLuaStaticHit(b *testing.B) {
	const id = int64(1)
	for _, p := range []struct {
		name   string
		policy bool
	}{{"none", false}, {"static", true}} {
		open := func(b *testing.B) getFunc {
			var opts []cached.Option
			if p.policy {
				opts = append(opts, cached.WithPolicy(newLuaEngine(b, `return { user = { ttl = "10m", jitter = "10%" } }`)))
			}
			c := cached.New(opts...)
			b.Cleanup(func() { c.Close() })
			var loads int
			get := cached.Wrap(c, "user", func(_ context.Context, id int64) (*User, error) {
				loads++ // the loader runs once, in the warm-up, on this goroutine
				return want(id), nil
			})
			for range 2 {
				u, err := get(context.Background(), id)
				if err := check(id, u, err); err != nil {
					b.Fatal(err)
				}
			}
			if loads != 1 {
				b.Fatalf("two gets of one key loaded it %d times; want 1", loads)
			}
			return get
		}
		b.Run(p.name+"/serial", func(b *testing.B) {
			get := open(b)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				u, err := get(ctx, id)
				if err := check(id, u, err); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(p.name+"/parallel", func(b *testing.B) {
			get := open(b)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					u, err := get(ctx, id)
					if err := check(id, u, err); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// luaStates is how many states BenchmarkLuaStateSize makes at once.
const luaStates = 200

// heapAfterGC returns the live heap after a full collection. Two: the first moves the
// sync.Pools' contents to their victim caches, the second frees them.
func heapAfterGC() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkLuaStateSize reports the heap a Lua state holds, in B/state: the live heap after
// a collection with luaStates states open, less the live heap before, divided by the
// states made. ns/state is the time to make one.
//   - default: lua.NewState() (every library, gopher-lua's default stack and registry);
//   - engine-like: the options and libraries of luapolicy's sandbox (its newState,
//     unexported, copied here): base, table, string and math only, a 120-frame call stack,
//     a 256-slot registry growing by 256 to 16384, MinimizeStackMemory. The sandbox's
//     function wrappers and the frozen globals are not copied;
//   - engine: the real thing: an engine with PoolSize(luaStates), made to open all of its
//     states by luaStates concurrent Decide calls that hold theirs (see gateCtx). The
//     count includes each state's sandbox wrappers, the script's policies (its top level
//     runs on every state), the bound functions, reused call tables and meter, and what
//     one call in flight holds. Its ns/state is wall time per state made, with the states
//     made concurrently by the callers (on GOMAXPROCS CPUs), each running its top level.
func BenchmarkLuaStateSize(b *testing.B) {
	b.Run("default", func(b *testing.B) {
		stateSize(b, func() *lua.LState { return lua.NewState() })
	})
	b.Run("engine-like", func(b *testing.B) {
		stateSize(b, newEngineLikeState)
	})
	b.Run("engine", func(b *testing.B) {
		var bytes int64
		var took time.Duration
		n := 0
		for b.Loop() {
			sz, t := engineStateSize(b)
			bytes += sz
			took += t
			n++
		}
		b.ReportMetric(float64(bytes)/float64(n), "B/state")
		b.ReportMetric(float64(took.Nanoseconds())/float64(n), "ns/state")
	})
}

func stateSize(b *testing.B, newState func() *lua.LState) {
	states := make([]*lua.LState, luaStates)
	var bytes int64
	var took time.Duration
	n := 0
	for b.Loop() {
		before := heapAfterGC()
		start := time.Now()
		for i := range states {
			states[i] = newState()
		}
		took += time.Since(start)
		bytes += heapAfterGC() - before
		for i, L := range states {
			L.Close()
			states[i] = nil
		}
		n++
	}
	b.ReportMetric(float64(bytes)/float64(n*luaStates), "B/state")
	b.ReportMetric(float64(took.Nanoseconds())/float64(n*luaStates), "ns/state")
}

// newEngineLikeState is luapolicy's newState (sandbox.go) without its wrappers.
func newEngineLikeState() *lua.LState {
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       120,
		RegistrySize:        256,
		RegistryMaxSize:     16 * 1024,
		RegistryGrowStep:    256,
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
	return L
}

// gateCtx is a caller's context whose Done, the first time it is called, reports the
// caller's arrival and blocks until release is closed. The engine checks the caller's
// context every 256 VM instructions of a run, so a caller running a function longer than
// that holds its Lua state until released, and luaStates gated callers make the pool open
// luaStates states.
type gateCtx struct {
	context.Context
	arrived *sync.WaitGroup
	release <-chan struct{}
	once    sync.Once
}

func (g *gateCtx) Done() <-chan struct{} {
	g.once.Do(func() {
		g.arrived.Done()
		<-g.release
	})
	return nil
}

// engineStateSize makes an engine open luaStates states and returns the heap each holds
// and the time it took to open one.
func engineStateSize(b *testing.B) (int64, time.Duration) {
	// About 2,000 instructions: past the engine's first check of the caller's context.
	const policy = `return { user = { key = function(call)
		local n = 0
		for i = 1, 1000 do n = n + i end
		return "user:" .. n
	end } }`
	e, err := luapolicy.LoadString("policy.lua", policy,
		luapolicy.PoolSize(luaStates), luapolicy.CallTimeout(time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	var arrived, finished sync.WaitGroup
	start, release := make(chan struct{}), make(chan struct{})
	errs := make(chan error, luaStates)
	arrived.Add(luaStates)
	for range luaStates {
		finished.Go(func() {
			ctx := &gateCtx{Context: context.Background(), arrived: &arrived, release: release}
			<-start
			d, err := e.Rules("user").Decide(ctx, cached.Call{Func: "user", Key: "1", Args: []any{1}})
			if err == nil && d.Key != "user:500500" {
				err = fmt.Errorf("key %q; want user:500500", d.Key)
			}
			errs <- err
		})
	}
	// The goroutines, parked, are in the heap before; so are the states the load made.
	loaded := e.Stats().States
	before := heapAfterGC()
	t0 := time.Now()
	close(start)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(time.Minute):
		close(release)
		b.Fatal("the engine's runs never checked the caller's context: the gate did not close")
	}
	took := time.Since(t0)
	after := heapAfterGC()
	open := e.Stats().States
	close(release)
	finished.Wait()
	for range luaStates {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
	if open != luaStates {
		b.Fatalf("%d states open with %d calls in flight; want %d", open, luaStates, luaStates)
	}
	made := luaStates - loaded
	return (after - before) / int64(made), took / time.Duration(made)
}

// reloadPolicy is the script BenchmarkLuaReload loads, with its user TTL in seconds to
// fill in: a key function with an example, so that a load self-checks one, and two
// static policies.
const reloadPolicy = `return {
  user = {
    ttl = %d, jitter = "10%%",
    key = function(call) return "user:" .. call.args[1] end,
    examples = { { args = { 42 }, key = "user:42" } },
  },
  search = { bypass = true },
  ["*"] = { ttl = "5m" },
}
`

// BenchmarkLuaReload is how long a policy change takes to go live:
//   - file: from the rename of a new version of the policy file (a new TTL) into place, as
//     an editor or a ConfigMap update does, to its OnReload, with Watch polling every
//     millisecond: so it includes half a poll interval on average;
//   - compile+selfcheck: LoadString of the same script: parse, compile, run the top level
//     in a fresh sandboxed state, validate, run the example; the build alone.
func BenchmarkLuaReload(b *testing.B) {
	b.Run("file", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "policy.lua")
		replaceFile(b, path, fmt.Sprintf(reloadPolicy, 1))
		reloads := make(chan luapolicy.Reload, 16)
		e, err := luapolicy.Load(path, luapolicy.PollInterval(time.Millisecond),
			luapolicy.OnReload(func(r luapolicy.Reload) { reloads <- r }))
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		<-reloads // the load's
		ctx, cancel := context.WithCancel(context.Background())
		watching := make(chan error, 1)
		go func() { watching <- e.Watch(ctx) }()
		defer func() { cancel(); <-watching }()
		ttl := 1
		b.ReportAllocs()
		for b.Loop() {
			ttl++
			src := fmt.Sprintf(reloadPolicy, ttl)
			sum := sha256.Sum256([]byte(src))
			replaceFile(b, path, src)
			select {
			case r := <-reloads:
				if r.Err != nil || r.Checksum != hex.EncodeToString(sum[:]) {
					b.Fatalf("reload %+v; want version with ttl %d", r, ttl)
				}
			case <-time.After(10 * time.Second):
				b.Fatal("no reload within 10s of the change")
			}
		}
	})
	b.Run("compile+selfcheck", func(b *testing.B) {
		src := fmt.Sprintf(reloadPolicy, 1)
		b.ReportAllocs()
		for b.Loop() {
			e, err := luapolicy.LoadString("policy.lua", src)
			if err != nil {
				b.Fatal(err)
			}
			e.Close()
		}
	})
}

// replaceFile writes src to a temporary file beside path and renames it over path, so that
// a reader sees the old content or the new, never part of it.
func replaceFile(b *testing.B, path, src string) {
	b.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
}

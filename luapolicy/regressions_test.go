// Regression tests from an independent review of luapolicy: each comment describes the
// defect its test caught, now fixed.

package luapolicy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// hold is a context whose Value blocks until release is closed. A request that
// carries it holds a Lua state for as long as the test wants: the argument conversion
// reads the chi route through it while the state is taken.
type hold struct {
	context.Context
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func newHold() *hold {
	return &hold{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
}

func (c *hold) Value(k any) any {
	c.once.Do(func() { close(c.entered) })
	<-c.release
	return c.Context.Value(k)
}

type asyncResult struct {
	d   cached.Decision
	err error
}

func decideAsync(rules *cached.Rules, args ...any) <-chan asyncResult {
	ch := make(chan asyncResult, 1)
	go func() {
		d, err := rules.Decide(context.Background(), cached.Call{Func: "user", Args: args})
		ch <- asyncResult{d, err}
	}()
	return ch
}

// A call that waits for a busy state of a version that a reload then retires is never
// woken: the busy state is closed when it is returned instead of being handed to the
// waiter, and the waiter fails after 100 call timeouts, so reloads under load fail calls
// (TestReloadUnderLoadFailsNoCall sees it intermittently). Waking every waiter to make a
// state of its own instead breaks the pool's bound: the retired version then runs its
// top level once per waiter and holds more than PoolSize states.
func TestReloadWakesCallsWaitingOnTheOldPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const v1 = `return { user = { key = function(call) return "v1:" .. call.args[1].path end } }`
		const v2 = `return { user = { key = function(call) return "v2:" .. call.args[1].path end } }`
		path := filepath.Join(t.TempDir(), "policy.lua")
		if err := os.WriteFile(path, []byte(v1), 0o644); err != nil {
			t.Fatal(err)
		}
		reloaded := make(chan luapolicy.Reload, 4)
		e, err := luapolicy.Load(path, luapolicy.PoolSize(1), luapolicy.PollInterval(time.Millisecond),
			luapolicy.OnReload(func(r luapolicy.Reload) { reloaded <- r }))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		<-reloaded
		rules := e.Rules("user")

		holdA, holdB, holdC := newHold(), newHold(), newHold()
		a := decideAsync(rules, httptest.NewRequest("GET", "/a", nil).WithContext(holdA))
		<-holdA.entered // a holds v1's only state
		b := decideAsync(rules, httptest.NewRequest("GET", "/b", nil).WithContext(holdB))
		c := decideAsync(rules, httptest.NewRequest("GET", "/c", nil).WithContext(holdC))
		synctest.Wait() // b and c wait for v1's state

		ctx, cancel := context.WithCancel(context.Background())
		watched := make(chan error)
		go func() { watched <- e.Watch(ctx) }()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(v2), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		if r := <-reloaded; r.Err != nil || r.Version != 2 {
			t.Fatalf("reload = %+v; want version 2", r)
		}
		close(holdA.release)
		if r := <-a; r.err != nil || r.d.Key != "v1:/a" {
			t.Errorf("call a = %q, %v; want v1:/a", r.d.Key, r.err)
		}
		synctest.Wait()
		if n := e.Stats().States; n > 2 {
			t.Errorf("states while b and c run on v1 = %d; want at most 2: v2's and PoolSize (1) of v1's", n)
		}
		close(holdB.release)
		close(holdC.release)
		for _, w := range []struct {
			name string
			ch   <-chan asyncResult
		}{{"b", b}, {"c", c}} {
			if r := <-w.ch; r.err != nil || r.d.Key != "v1:/"+w.name {
				t.Errorf("call %s, waiting for a v1 state during the reload = %q, %v; want v1:/%s, no error", w.name, r.d.Key, r.err, w.name)
			}
		}
		cancel()
		<-watched
		if n := e.Stats().States; n != 1 {
			t.Errorf("states = %d; want 1 (v2's)", n)
		}
	})
}

// A call that waits for the pool's busy state is not woken when that state hits a limit
// and is closed: the pool has room for a new state, but the waiter sleeps out its 100
// call timeouts and fails. One hostile call fails the calls queued behind it.
func TestClosedStateWakesAWaiter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, err := luapolicy.LoadString("p.lua", `return { user = { key = function(call)
		  if call.args[2] == "bomb" then return string.rep("x", 1e9) end
		  return "k:" .. call.args[1].path
		end } }`, luapolicy.PoolSize(1))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		rules := e.Rules("user")

		hold := newHold()
		a := decideAsync(rules, httptest.NewRequest("GET", "/a", nil).WithContext(hold), "bomb")
		<-hold.entered
		b := decideAsync(rules, httptest.NewRequest("GET", "/b", nil))
		synctest.Wait() // b waits for the only state
		close(hold.release)
		if r := <-a; !errors.Is(r.err, luapolicy.ErrMemory) {
			t.Errorf("call a = %v; want ErrMemory", r.err)
		}
		if r := <-b; r.err != nil || r.d.Key != "k:/b" {
			t.Errorf("call b, queued behind a state that hit a limit = %q, %v; want k:/b, no error", r.d.Key, r.err)
		}
		if s := e.Stats(); s.Errors != 1 || s.States != 1 {
			t.Errorf("errors %d, states %d; want 1 error (a's) and 1 state", s.Errors, s.States)
		}
	})
}

// string.format hands its format to Go's fmt, which understands explicit argument
// indexes, before the verb and after a width: "%[1]s" or "%1[1]s" repeated n times
// copies one argument n times, but the size check counts each directive against the
// next argument (nil). One instruction builds a string far over MaxString.
func TestFormatArgumentIndexesBounded(t *testing.T) {
	for _, dir := range []string{"%[1]s", "%1[1]s"} {
		t.Run(dir, func(t *testing.T) {
			e := mustLoad(t, `return { user = { key = function(call)
			  local s = string.rep("x", 64 * 1024)
			  return #string.format(string.rep(call.args[1], 64), s)
			end } }`)
			d, err := e.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Args: []any{dir}})
			if err == nil {
				t.Errorf("format of a 64 KiB string with %s 64 times: key %q, no error; want ErrMemory (the result is over MaxString, 1 MiB) or an invalid format", dir, d.Key)
			}
		})
	}
}

// The pattern bound counts *, +, - and %b but not ?, which backtracks as much: "a?"
// repeated n times then "a" n times tries 2^n ways on n bytes, inside one VM instruction
// that no deadline stops.
func TestOptionalPatternItemsBounded(t *testing.T) {
	e := mustLoad(t, `return { user = { key = function(call)
	  local s = call.args[1]
	  if string.match(s, string.rep("a?", #s) .. string.rep("a", #s)) then return "m" end
	  return "n"
	end } }`)
	start := time.Now()
	d, err := e.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Args: []any{strings.Repeat("a", 20)}})
	took := time.Since(start)
	if !errors.Is(err, luapolicy.ErrTimeout) {
		t.Errorf("a 2^20-step match: key %q, err %v after %v; want ErrTimeout (CallTimeout is 1ms)", d.Key, err, took)
	}
}

// gopher-lua allocates every array slot below an integer index inside the one
// instruction that stores it, and the index bound (2^20 slots, 16 MiB) ignores the
// Memory budget; the meter's first allocation check only takes its baseline, so what
// the first 255 instructions allocate is never counted. A short key function allocates
// many times its call's budget and succeeds.
func TestIndexAllocationCountsAgainstMemory(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n     int // the index
		count int // tables indexed at n
	}{
		{"two tables at 2^20", 1 << 20, 2},
		{"twenty tables at 2^16", 1 << 16, 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustLoad(t, `return { user = { key = function(call)
			  local n, keep = call.args[1], {}
			  for i = 1, call.args[2] do local t = {} t[n] = 1 keep[i] = t end
			  return "k"
			end } }`)
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			d, err := e.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Args: []any{tc.n, tc.count}})
			runtime.ReadMemStats(&after)
			if used := after.TotalAlloc - before.TotalAlloc; used > 32<<20 && !errors.Is(err, luapolicy.ErrMemory) {
				t.Errorf("key %q, err %v, %d MiB allocated; want ErrMemory (the call budget is 16 MiB)", d.Key, err, used>>20)
			}
		})
	}
}

// A duration just under the largest time.Duration passes the range check and then
// overflows in the conversion to a negative Duration, which cached.TTL panics on: a
// script (from a file or etcd) panics the process that loads it.
func TestHugeDurationRejectedNotPanicking(t *testing.T) {
	for _, src := range []string{
		`return { user = { ttl = 9223372036.854776 } }`,
		`return { user = { ttl = "9223372036.854776" } }`,
	} {
		t.Run(src, func(t *testing.T) {
			var err error
			func() {
				defer func() {
					if p := recover(); p != nil {
						err = fmt.Errorf("panic: %v", p)
					}
				}()
				var e *luapolicy.Engine
				if e, err = luapolicy.LoadString("p.lua", src); err == nil {
					e.Close()
				}
			}()
			if !errors.Is(err, luapolicy.ErrRejected) {
				t.Errorf("LoadString = %v; want an error wrapping ErrRejected", err)
			}
		})
	}
	e := mustLoad(t, `return { user = { ttl = function(call, v) return v end } }`)
	d, err := e.Rules("user").TTL(context.Background(), cached.Call{Func: "user"}, 9223372036.854776)
	if err == nil && d < 0 {
		t.Errorf("ttl returning 9223372036.854776 seconds = %v, nil; want an error or a positive TTL, not a negative one", d)
	}
}

// Some single VM instructions cost milliseconds and no limit sees them: `#t` scans a
// table's array part back past nil slots (gopher-lua never shrinks it, so a table filled
// and emptied at the top level makes every `#` of it slow), and the pattern bound allows
// one step per nanosecond where gopher-lua's matcher takes tens: "a*b" on 999 bytes is
// allowed and runs about 20ms. Instructions are what the meter counts, and a run too
// short to reach a check is never timed: a key function of a few instructions runs many
// CallTimeouts on every call, with input the caller controls, and succeeds.
func TestSlowInstructionsTimedOut(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		arg       any
	}{
		{"len", `local holes = {}
for i = 1, 65000 do holes[i] = true end
for i = 65000, 1, -1 do holes[i] = nil end
return { user = { key = function(call)
  local h = holes
  return "k" .. (#h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h + #h)
end } }`, nil},
		{"pattern", `return { user = { key = function(call)
  return "k" .. tostring(string.find(call.args[1], "a*b"))
end } }`, strings.Repeat("a", 999)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustLoad(t, tc.src, luapolicy.LoadTimeout(10*time.Second), luapolicy.Memory(16<<20, 1<<30))
			var worst time.Duration
			for range 5 {
				start := time.Now()
				d, err := e.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Args: []any{tc.arg}})
				took := time.Since(start)
				if errors.Is(err, luapolicy.ErrTimeout) {
					return
				}
				if err != nil {
					t.Fatalf("key %q, err %v", d.Key, err)
				}
				worst = max(worst, took)
			}
			if worst > 3*time.Millisecond {
				t.Errorf("5 calls succeeded, the slowest in %v; want ErrTimeout for runs over 3 times their 1ms CallTimeout", worst)
			}
		})
	}
}

// A call whose argument fails to convert leaves the arguments converted before it in
// the state's reused args table, and the next call on that state (another function
// under "*", with fewer arguments) sees them: one call's data reaches another's script.
func TestFailedConversionLeavesNoArgs(t *testing.T) {
	e := mustLoad(t, `return { ["*"] = { key = function(call) return "k:" .. tostring(call.args[1]) end } }`, luapolicy.PoolSize(1))
	rules := e.Rules("ping")
	call := func(name string, args ...any) (string, error) {
		d, err := rules.Decide(context.Background(), cached.Call{Func: name, Args: args})
		return d.Key, err
	}
	if k, err := call("ping"); err != nil || k != "k:nil" {
		t.Fatalf("ping = %q, %v; want k:nil", k, err)
	}
	if _, err := call("search", "alice@example.com", make([]int, 20000)); err == nil {
		t.Fatal("search with 20,000 elements: no error; want the argument bound to fail it")
	}
	if k, err := call("ping"); err != nil || k != "k:nil" {
		t.Errorf("ping after a failed search = %q, %v; want k:nil: the failed call's first argument leaked into it", k, err)
	}
}

// OnReload is called with the Engine's reload mutex held, and Stats takes that mutex: a
// callback that reads Stats (to export them, say) deadlocks the reload. User code must
// not run under the Engine's locks.
func TestOnReloadMayReadStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.lua")
	writeFile(t, path, `return { user = { ttl = "1m" } }`)
	var eng atomic.Pointer[luapolicy.Engine]
	blocked := make(chan bool, 4)
	e, err := luapolicy.Load(path, luapolicy.PollInterval(time.Millisecond), luapolicy.OnReload(func(luapolicy.Reload) {
		e := eng.Load()
		if e == nil {
			return
		}
		done := make(chan struct{})
		go func() { e.Stats(); close(done) }()
		select {
		case <-done:
			blocked <- false
		case <-time.After(500 * time.Millisecond):
			blocked <- true // Stats waits for the reload that called us
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	eng.Store(e)
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error)
	go func() { watched <- e.Watch(ctx) }()
	writeFile(t, path, `return { user = { ttl = "2m" } }`)
	if <-blocked {
		t.Error("Stats called from OnReload blocked until the callback returned: calling it directly deadlocks")
	}
	cancel()
	<-watched
}

// A rejected version sets Stats.LastError. Restoring the file to the live version's
// content (the usual fix: revert the edit) is an attempt that Watch makes, but reload
// returns early on the live checksum: OnReload is not called and LastError stays set for
// good, so an alert on it never clears.
func TestRevertToLiveClearsLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const good, bad = `return { user = { ttl = "1m" } }`, `return { user = { ttl = "1 minute" } }`
		path := filepath.Join(t.TempDir(), "policy.lua")
		write := func(src string) {
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}
		write(good)
		reloaded := make(chan luapolicy.Reload, 4)
		e, err := luapolicy.Load(path, luapolicy.PollInterval(time.Millisecond), luapolicy.OnReload(func(r luapolicy.Reload) { reloaded <- r }))
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		<-reloaded
		ctx, cancel := context.WithCancel(context.Background())
		watched := make(chan error)
		go func() { watched <- e.Watch(ctx) }()

		write(bad)
		if r := <-reloaded; r.Err == nil {
			t.Fatal("bad version accepted")
		}
		write(good) // revert
		select {
		case r := <-reloaded:
			if r.Err != nil || r.Checksum != sum(good) {
				t.Errorf("reload after the revert = %+v; want the live version's checksum, no error", r)
			}
		case <-time.After(time.Second): // fake time: a thousand polls
			t.Error("no OnReload after the file was restored to the live version")
		}
		if s := e.Stats(); s.LastError != nil {
			t.Errorf("Stats.LastError after the revert = %v; want nil: the file holds the live version", s.LastError)
		}
		cancel()
		<-watched
	})
}

// Errors about a policy are to say file:line. A policy built by a helper (the README's
// own "shared settings through a helper" pattern) loses the line although the line of
// `P.user = ...` is known; and a per-call function's wrong result names neither the
// policy nor the line of the function.
func TestErrorsSayWhere(t *testing.T) {
	t.Run("helper", func(t *testing.T) {
		_, err := luapolicy.LoadString("p.lua", "local function cached_for(ttl) return { ttl = ttl } end\nlocal P = {}\nP.user = cached_for(\"10 minutes\")\nreturn P")
		if err == nil || !strings.Contains(err.Error(), "p.lua:3:") {
			t.Errorf("err = %v; want it to say p.lua:3:", err)
		}
	})
	t.Run("result", func(t *testing.T) {
		e := mustLoad(t, "return {\n  user = { ttl = \"1m\" },\n  item = { key = function(call) return {} end },\n}")
		_, err := e.Rules("item").Decide(context.Background(), cached.Call{Func: "item"})
		if err == nil || !strings.Contains(err.Error(), "p.lua:3:") {
			t.Errorf("err = %v; want it to say p.lua:3: (where the key function is)", err)
		}
	})
}

// What a state keeps between calls is measured so that a state that grows is recycled.
// The measure skips the string, table and math libraries, but a per-call function may
// add fields to them (they are tables, not globals, so the frozen globals do not stop
// it): state kept under string.keep grows without bound and is never recycled.
func TestStateKeptInALibraryIsRecycled(t *testing.T) {
	e := mustLoad(t, `return { f = { key = function(call)
	  local keep = string.keep or {}
	  string.keep = keep
	  keep[#keep + 1] = string.rep("x", 10000)
	  return "k"
	end } }`, luapolicy.PoolSize(1), luapolicy.Memory(1<<20, 4<<20))
	for range 2048 {
		if _, err := e.Rules("f").Decide(context.Background(), cached.Call{Func: "f"}); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.Stats(); s.Recycled == 0 {
		t.Errorf("recycled %d; want the state recycled: it kept 20 MB under string.keep, over the 4 MiB load budget", s.Recycled)
	}
}

// Every example runs under a fresh LoadTimeout (and a fresh load Memory budget), and the
// top level may make any number of examples, so LoadTimeout does not bound a load: a
// version whose examples each take a fifth of it loads for as long as it likes, holding
// the Engine's lock (Close and Stats wait) and, at start-up, Load.
func TestLoadTimeoutBoundsTheWholeLoad(t *testing.T) {
	const loop = `function(call) for i = 1, call.args[1] do end return "k" end`
	cal := mustLoad(t, `return { user = { key = `+loop+` } }`, luapolicy.CallTimeout(10*time.Second))
	const n0 = 200000
	start := time.Now()
	if _, err := cal.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Args: []any{n0}}); err != nil {
		t.Fatal(err)
	}
	per := time.Since(start) / n0
	const limit = 50 * time.Millisecond
	n := int(limit / 5 / max(per, 1))
	src := fmt.Sprintf(`local ex = {}
for i = 1, 40 do ex[i] = { args = { %d }, key = "k" } end
return { user = { key = %s, examples = ex } }`, n, loop)
	start = time.Now()
	e, err := luapolicy.LoadString("p.lua", src, luapolicy.LoadTimeout(limit))
	took := time.Since(start)
	if err == nil {
		e.Close()
	}
	if err == nil && took > 3*limit {
		t.Errorf("a load running 40 examples of about %v each took %v and went live; want it rejected with ErrTimeout: LoadTimeout (%v) bounds a load", limit/5, took, limit)
	}
}

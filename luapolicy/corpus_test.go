package luapolicy_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// hostile is one script of testdata/hostile. Its first line says what the engine must
// do with it:
//
//	-- want: load   Load rejects it with an error wrapping ErrRejected
//	-- want: call   it loads, and every per-call run of its policies for "user" and
//	                "item" (called with one int argument) fails, contained
//
// and its second line says what it tries.
type hostile struct {
	name string // the file name
	want string // "load" or "call"
	what string
	src  string
}

func hostileScripts(t *testing.T) []hostile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "hostile", "*.lua"))
	if err != nil {
		t.Fatal(err)
	}
	var hs []hostile
	wants := map[string]int{}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(strings.NewReader(string(src)))
		var head [2]string
		for i := range head {
			if sc.Scan() {
				head[i] = sc.Text()
			}
		}
		want, ok := strings.CutPrefix(head[0], "-- want: ")
		what, ok2 := strings.CutPrefix(head[1], "-- ")
		if !ok || !ok2 || want != "load" && want != "call" {
			t.Fatalf("%s: want the first lines %q or %q, then %q; got %q", p, "-- want: load", "-- want: call", "-- what it tries", head)
		}
		wants[want]++
		hs = append(hs, hostile{name: filepath.Base(p), want: want, what: what, src: string(src)})
	}
	if len(hs) < 30 || wants["load"] == 0 || wants["call"] == 0 {
		t.Fatalf("testdata/hostile: got %d scripts (%v); want at least 30, of both kinds", len(hs), wants)
	}
	return hs
}

func hostileSum(src string) string {
	s := sha256.Sum256([]byte(src))
	return hex.EncodeToString(s[:])
}

// hostileFuncs are the functions the want: call scripts give policies for.
var hostileFuncs = []string{"user", "item"}

// hostileCalls is how many times TestHostileCorpus calls each per-call function: the
// arguments 1 to 6, so that a script may try a different thing per argument.
const hostileCalls = 6

// TestHostileCorpus loads each hostile script on its own: a want: load script must be
// rejected; a want: call script must load, and each of its per-call runs must fail with
// an error, promptly, its state closed once the Engine is.
func TestHostileCorpus(t *testing.T) {
	for _, h := range hostileScripts(t) {
		t.Run(strings.TrimSuffix(h.name, ".lua"), func(t *testing.T) {
			start := time.Now()
			e, err := luapolicy.LoadString(h.name, h.src)
			took := time.Since(start)
			// A stopped script stops within LoadTimeout (100ms) plus 256 VM instructions;
			// seconds mean it was not stopped (the race detector is slow, not that slow).
			if took > 2*time.Second {
				t.Errorf("%s: LoadString took %v; want it stopped near LoadTimeout (100ms)", h.what, took)
			}
			if e != nil {
				defer func() {
					e.Close()
					if got := e.Stats().States; got != 0 {
						t.Errorf("after Close: States = %d; want 0", got)
					}
				}()
			}
			if h.want == "load" {
				if !errors.Is(err, luapolicy.ErrRejected) {
					t.Fatalf("%s: LoadString: got %v; want an error wrapping ErrRejected", h.what, err)
				}
				t.Logf("rejected in %v: %v", took, err)
				return
			}
			if err != nil {
				t.Fatalf("%s: LoadString: %v; want it loaded (its per-call functions are what fails)", h.what, err)
			}
			runs := callHostile(t, h, e)
			st := e.Stats()
			if st.Calls != runs || st.Errors != runs {
				t.Errorf("%s: Stats: got Calls %d, Errors %d; want %d and %d", h.what, st.Calls, st.Errors, runs, runs)
			}
		})
	}
}

// callHostile runs every per-call function e has for hostileFuncs hostileCalls times and
// checks that each run fails promptly. It returns the number of runs.
func callHostile(t *testing.T, h hostile, e *luapolicy.Engine) uint64 {
	t.Helper()
	ctx := context.Background()
	var runs uint64
	check := func(what string, k int, start time.Time, result any, err error) {
		runs++
		if took := time.Since(start); took > time.Second {
			t.Errorf("%s: %s(%d) took %v; want it stopped near CallTimeout (1ms)", h.what, what, k, took)
		}
		if err == nil {
			t.Errorf("%s: %s(%d) = %v, nil; want an error", h.what, what, k, result)
		} else if k == 1 {
			t.Logf("%s(%d): %v", what, k, err)
		}
	}
	for _, name := range hostileFuncs {
		r := e.Rules(name)
		if r == nil {
			continue
		}
		for k := 1; k <= hostileCalls; k++ {
			c := cached.Call{Func: name, Key: strconv.Itoa(k), Args: []any{k}}
			if r.Decide != nil {
				start := time.Now()
				d, err := r.Decide(ctx, c)
				check(name+" Decide", k, start, d, err)
			}
			if r.TTL != nil {
				start := time.Now()
				d, err := r.TTL(ctx, c, name+":"+strconv.Itoa(k))
				check(name+" TTL", k, start, d, err)
			}
		}
	}
	if runs == 0 {
		t.Fatalf("%s: the script has no per-call function for %v; a want: call script needs one", h.what, hostileFuncs)
	}
	return runs
}

// hostileGood is what TestHostileReloadUnderLoad goes back to after each hostile script.
// Both functions run Lua on every call, so the good periods exercise the pool too.
const hostileGood = `-- the good policy
return {
  user = {
    ttl = "1m", jitter = "10%",
    key = function(call) return "u:" .. call.args[1] end,
    examples = { { args = { 7 }, key = "u:7" } },
  },
  item = {
    bypass = function(call) return false end,
    ttl = function(call, value) return 30 end,
    examples = { { args = { 1 }, value = "item:1", bypass = false, ttl = 30 } },
  },
}
`

// TestHostileReloadUnderLoad writes each hostile script in turn to a watched policy file
// while callers hammer two wrapped functions, then puts the good script back. No cache
// call may fail; a want: load script must be rejected with the good version left live;
// a want: call script must go live and its failures be counted by the Engine and the
// Cache; at the end every Lua state is closed and the heap is not ballooned.
func TestHostileReloadUnderLoad(t *testing.T) {
	const (
		callers      = 8                // goroutines calling the wrapped functions
		callsPerStep = 64               // calls made while each hostile script is in the file
		watchdog     = 30 * time.Second // a wait this long means the engine is stuck
		maxHeapInuse = 512 << 20        // the heap after the run: the bombs were stopped
	)
	scripts := hostileScripts(t)
	path := filepath.Join(t.TempDir(), "policy.lua")
	write := func(src string) {
		t.Helper()
		// Write and rename, so Watch never reads half a script.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(hostileGood)
	// One report per reload attempt: at most two per script and the first load, so the
	// buffer never fills and OnReload never blocks.
	reloads := make(chan luapolicy.Reload, 2*len(scripts)+2)
	e, err := luapolicy.Load(path,
		luapolicy.PollInterval(5*time.Millisecond),
		luapolicy.OnReload(func(r luapolicy.Reload) { reloads <- r }))
	if err != nil {
		t.Fatalf("Load(good policy): %v", err)
	}
	t.Cleanup(func() { e.Close() }) // idempotent: shutdown closes it too
	good := e.Stats().Checksum
	if good != hostileSum(hostileGood) {
		t.Fatalf("Stats().Checksum = %s; want %s", good, hostileSum(hostileGood))
	}

	c := cached.New(cached.WithPolicy(e), cached.WithLogger(nil)) // failures are counted, not logged
	user := cached.Wrap(c, "user", func(ctx context.Context, k int) (string, error) {
		return "user:" + strconv.Itoa(k), nil
	})
	item := cached.Wrap(c, "item", func(ctx context.Context, k int) (string, error) {
		return "item:" + strconv.Itoa(k), nil
	})

	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error, 1)
	go func() { watched <- e.Watch(ctx) }()

	var (
		keys     atomic.Int64 // every call a new key: a miss, so ttl runs too
		slowest  atomic.Int64 // the longest call, ns
		done     atomic.Int64 // calls returned
		failed   atomic.Int64 // calls that returned an error or a wrong value
		first    = make(chan string, 1)
		target   atomic.Int64 // when done reaches it, signal reached
		reached  = make(chan struct{}, 1)
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		stopOnce sync.Once
	)
	target.Store(math.MaxInt64)
	for range callers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := int(keys.Add(1))
				fn, want := user, "user:"+strconv.Itoa(k)
				if k%2 == 1 {
					fn, want = item, "item:"+strconv.Itoa(k)
				}
				// The caller's context is never cancelled: a cancelled call would fail
				// for a reason of its own.
				start := time.Now()
				got, err := fn(context.Background(), k)
				for took := int64(time.Since(start)); ; {
					if old := slowest.Load(); took <= old || slowest.CompareAndSwap(old, took) {
						break
					}
				}
				if err != nil || got != want {
					failed.Add(1)
					select {
					case first <- fmt.Sprintf("call(%d) = %q, %v; want %q, nil", k, got, err, want):
					default:
					}
				}
				if n := done.Add(1); n >= target.Load() {
					select {
					case reached <- struct{}{}:
					default:
					}
				}
			}
		})
	}
	// shutdown stops the callers and Watch; it also runs when a t.Fatal cuts the test
	// short, so no goroutine outlives it.
	shutdown := func() {
		stopOnce.Do(func() {
			close(stop)
			wg.Wait()
			cancel()
			if err := <-watched; !errors.Is(err, context.Canceled) {
				t.Errorf("Watch: got %v; want %v", err, context.Canceled)
			}
			c.Close()
			e.Close()
		})
	}
	t.Cleanup(shutdown)

	// waitCalls returns once the callers have made n more calls.
	waitCalls := func(n int64) {
		t.Helper()
		want := done.Load() + n
		target.Store(want)
		defer target.Store(math.MaxInt64)
		timeout := time.NewTimer(watchdog)
		defer timeout.Stop()
		for done.Load() < want {
			select {
			case <-reached:
			case <-timeout.C:
				t.Fatalf("the callers made %d of %d calls in %v", n-(want-done.Load()), n, watchdog)
			}
		}
	}
	// waitReload returns the report of the reload of the source with checksum sum.
	waitReload := func(what, sum string) luapolicy.Reload {
		t.Helper()
		timeout := time.NewTimer(watchdog)
		defer timeout.Stop()
		for {
			select {
			case r := <-reloads:
				if r.Checksum == sum {
					return r
				}
			case <-timeout.C:
				t.Fatalf("%s: no reload reported in %v", what, watchdog)
			}
		}
	}

	waitCalls(callsPerStep) // the good policy serves
	for _, h := range scripts {
		start := time.Now()
		write(h.src)
		r := waitReload(h.name, hostileSum(h.src))
		before, cbefore := e.Stats(), c.Stats().Total()
		waitCalls(callsPerStep)
		after, cafter := e.Stats(), c.Stats().Total()
		switch {
		case h.want == "load" && r.Err == nil:
			t.Errorf("%s (%s): reload went live; want it rejected with ErrRejected", h.name, h.what)
		case h.want == "load" && !errors.Is(r.Err, luapolicy.ErrRejected):
			t.Errorf("%s (%s): reload: got %v; want an error wrapping ErrRejected", h.name, h.what, r.Err)
		case h.want == "load":
			if after.Checksum != good {
				t.Errorf("%s: after its rejection the live checksum is %s; want the good one, %s", h.name, after.Checksum, good)
			}
		case r.Err != nil:
			t.Errorf("%s (%s): reload: %v; want it live", h.name, h.what, r.Err)
		default:
			if after.Checksum != r.Checksum {
				t.Errorf("%s: live checksum %s; want the script's, %s", h.name, after.Checksum, r.Checksum)
			}
			// Every run on the hostile version fails; a call that started on the good
			// version before the swap finishes on it: its decision and, after its load,
			// its ttl, two runs per caller at most.
			runs, errs := after.Calls-before.Calls, after.Errors-before.Errors
			if errs == 0 || errs+2*callers < runs {
				t.Errorf("%s (%s): Engine Stats: %d runs, %d errors; want every run but at most %d to fail", h.name, h.what, runs, errs, 2*callers)
			}
			if pe := cafter.PolicyErrors - cbefore.PolicyErrors; pe == 0 {
				t.Errorf("%s (%s): Cache Stats: PolicyErrors did not increase; want the failures counted", h.name, h.what)
			}
		}
		write(hostileGood)
		// A rejected script left the good version live: putting it back is no change, so
		// there is no reload to report (the Engine skips a source with the live checksum).
		if r.Err == nil {
			waitReload("good policy", good)
		}
		if got := e.Stats().Checksum; got != good && r.Err == nil {
			t.Errorf("after %s: live checksum %s; want the good one, %s", h.name, got, good)
		}
		if took := time.Since(start); took > time.Second {
			t.Logf("%s: %v", h.name, took)
		}
	}
	waitCalls(callsPerStep) // the good policy serves again

	shutdown()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d cache calls failed; the first: %s", n, done.Load(), <-first)
	}
	st := e.Stats()
	if st.States != 0 {
		t.Errorf("after Close: Stats().States = %d; want 0", st.States)
	}
	cs := c.Stats().Total()
	t.Logf("slowest cache call: %v", time.Duration(slowest.Load()))
	t.Logf("%d calls; engine: %d runs, %d errors (%d timeouts, %d memory), %d reloads, %d rejected; cache: %d policy errors",
		done.Load(), st.Calls, st.Errors, st.Timeouts, st.MemoryLimits, st.Reloads, st.ReloadsFailed, cs.PolicyErrors)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("heap: %d MiB in use, %d MiB obtained from the OS (the peak)", ms.HeapInuse>>20, ms.HeapSys>>20)
	if ms.HeapInuse > maxHeapInuse {
		t.Errorf("HeapInuse = %d MiB; want under %d MiB: a bomb ran to completion", ms.HeapInuse>>20, maxHeapInuse>>20)
	}
}

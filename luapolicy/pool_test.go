package luapolicy_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

func TestPoolBoundedAndReused(t *testing.T) {
	e := mustLoad(t, `return { f = {
	  key = function(call) local n = 0 for i = 1, 200 do n = n + i end return "k" .. call.args[1] end,
	  ttl = function(call, v) return v end,
	} }`, luapolicy.PoolSize(2), luapolicy.CallTimeout(time.Second))
	var wg sync.WaitGroup
	var mu sync.Mutex
	maxStates := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				if _, err := decide(e, context.Background(), g*1000+i); err != nil {
					t.Error(err)
					return
				}
				if _, err := e.Rules("f").TTL(context.Background(), cached.Call{Func: "f", Args: []any{i}}, 60); err != nil {
					t.Error(err)
					return
				}
				n := e.Stats().States
				mu.Lock()
				maxStates = max(maxStates, n)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if maxStates > 2 {
		t.Errorf("states open at once reached %d; want at most PoolSize (2)", maxStates)
	}
	s := e.Stats()
	if s.Calls != 8000 || s.Errors != 0 {
		t.Errorf("calls %d errors %d; want 8000 and 0 (a call waits for a busy pool within its timeout)", s.Calls, s.Errors)
	}
	if s.States < 1 || s.States > 2 {
		t.Errorf("states after the run = %d; want 1 or 2: states are reused, not made per call", s.States)
	}
	if s.CallP50 <= 0 || s.CallP50 > s.CallP99 {
		t.Errorf("call time p50 %v, p99 %v; want 0 < p50 <= p99", s.CallP50, s.CallP99)
	}
}

func TestDefaultPoolSizeIsGOMAXPROCS(t *testing.T) {
	e := mustLoad(t, `return { f = { key = function(call) local n = 0 for i = 1, 2000 do n = n + i end return "k" end } }`, luapolicy.CallTimeout(time.Second))
	procs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for range 4 * procs {
		wg.Go(func() {
			for range 50 {
				decide(e, context.Background())
				if n := e.Stats().States; n > procs {
					t.Errorf("states = %d; want at most GOMAXPROCS (%d)", n, procs)
					return
				}
			}
		})
	}
	wg.Wait()
}

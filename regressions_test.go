package cached_test

// Regression tests for defects found in review: each failed before its fix.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// an Observer panic after a flight is registered leaves the flight in the map forever.
func TestRegressionObserverPanicLeavesFlight(t *testing.T) {
	var once atomic.Bool
	obs := cached.ObserverFunc(func(e cached.Event) {
		if e.Kind == cached.Miss && once.CompareAndSwap(false, true) {
			panic("observer bug")
		}
	})
	c := newCache(t, cached.WithObserver(obs))
	f := cached.NewFunc(c, "f", func(context.Context, int) (int, error) { return 1, nil })
	func() {
		defer func() { recover() }()
		f.Get(context.Background(), 1)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.Get(ctx, 1); err != nil {
		t.Fatalf("second Get: %v (joined an orphaned flight that never ends)", err)
	}
}

// gateStore blocks Delete until released.
type gateStore struct {
	*memStore
	delEntered chan struct{}
	delRelease chan struct{}
}

func (s *gateStore) Delete(ctx context.Context, key string) error {
	if s.delEntered != nil {
		close(s.delEntered)
		<-s.delRelease
	}
	return s.memStore.Delete(ctx, key)
}

// a Get between Invalidate's tier drop and its Store delete re-reads the old value from
// the Store into the tier; with a Bus it is then served for the whole TTL.
func TestRegressionInvalidateLosesToStoreRead(t *testing.T) {
	var bus cached.LocalBus
	st := &gateStore{memStore: newMemStore()}
	c := newCache(t, cached.WithStore(st), cached.WithBus(&bus))
	var src atomic.Value
	src.Store("old")
	f := cached.NewFunc(c, "f", func(context.Context, int) (string, error) { return src.Load().(string), nil })
	ctx := context.Background()
	f.Get(ctx, 1)
	src.Store("new")
	st.delEntered, st.delRelease = make(chan struct{}), make(chan struct{})
	done := make(chan struct{})
	go func() { f.Invalidate(ctx, 1); close(done) }()
	<-st.delEntered
	f.Get(ctx, 1) // reads the old value from the Store into the tier
	close(st.delRelease)
	<-done
	if v, _ := f.Get(ctx, 1); v != "new" {
		t.Fatalf("after Invalidate returned: Get = %q, want new", v)
	}
}

// a Bus invalidation does not supersede a flight of a function with no in-process tier,
// so the flight writes the old value to the shared Store after the other instance deleted it.
func TestRegressionBusDoesNotSupersedeWithoutTier(t *testing.T) {
	var bus cached.LocalBus
	st := newMemStore()
	a := newCache(t, cached.WithStore(st), cached.WithBus(&bus))
	b := newCache(t, cached.WithStore(st), cached.WithBus(&bus))
	entered, release := make(chan struct{}), make(chan struct{})
	fa := cached.NewFunc(a, "f", func(context.Context, int) (string, error) {
		close(entered)
		<-release
		return "old", nil
	}, cached.LocalSize(0))
	fb := cached.NewFunc(b, "f", func(context.Context, int) (string, error) { return "new", nil }, cached.LocalSize(0))
	done := make(chan struct{})
	go func() { fa.Get(context.Background(), 1); close(done) }()
	<-entered
	if err := fb.Invalidate(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if m, ok := st.item(":f::1"); ok {
		t.Fatalf("store holds %s after another instance's Invalidate; superseded write kept", m.it.Value)
	}
}

type staticPolicy struct{ r *cached.Rules }

func (p staticPolicy) Rules(string) *cached.Rules { return p.r }

// FailOpen on a Policy failure calls fn directly: no tier, no coalescing.
func TestRegressionPolicyFailOpenBypassesCache(t *testing.T) {
	p := staticPolicy{&cached.Rules{Decide: func(context.Context, cached.Call) (cached.Decision, error) {
		return cached.Decision{}, errors.New("lua error")
	}}}
	c := newCache(t, cached.WithPolicy(p), quiet)
	var calls atomic.Int64
	f := cached.NewFunc(c, "f", func(context.Context, int) (int, error) { calls.Add(1); return 1, nil })
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); f.Get(context.Background(), 1) }()
	}
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("loader ran %d times for 50 concurrent Gets under FailOpen", n)
	}
}

// a Policy failure makes Invalidate a no-op, even for the in-process tier.
func TestRegressionPolicyFailureInvalidateNoop(t *testing.T) {
	var fail atomic.Bool
	r := &cached.Rules{Decide: func(_ context.Context, c cached.Call) (cached.Decision, error) {
		if fail.Load() {
			return cached.Decision{}, errors.New("lua error")
		}
		return cached.Decision{}, nil
	}}
	c := newCache(t, cached.WithPolicy(staticPolicy{r}), quiet, cached.OnFailure(cached.FailStale))
	var v atomic.Int64
	f := cached.NewFunc(c, "f", func(context.Context, int) (int64, error) { return v.Add(1), nil })
	ctx := context.Background()
	f.Get(ctx, 1)
	fail.Store(true)
	_ = f.Invalidate(ctx, 1)
	fail.Store(false)
	if got, _ := f.Get(ctx, 1); got != 2 {
		t.Errorf("after Invalidate: %d, want a reload (2)", got)
	}
}

// with Decide replacing the key, a Bus message is decoded to the wrong K.
func TestRegressionBusDropKeyWithDecideKey(t *testing.T) {
	var bus cached.LocalBus
	r := &cached.Rules{Decide: func(_ context.Context, c cached.Call) (cached.Decision, error) {
		return cached.Decision{Key: "tenant-" + c.Key}, nil
	}}
	a := newCache(t, cached.WithBus(&bus), cached.WithPolicy(staticPolicy{r}))
	b := newCache(t, cached.WithBus(&bus), cached.WithPolicy(staticPolicy{r}))
	var v atomic.Int64
	fa := cached.NewFunc(a, "f", func(context.Context, string) (int64, error) { return v.Add(1), nil })
	fb := cached.NewFunc(b, "f", func(context.Context, string) (int64, error) { return 99, nil })
	ctx := context.Background()
	fa.Get(ctx, "alice")
	if err := fb.Invalidate(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if got, _ := fa.Get(ctx, "alice"); got != 2 {
		t.Errorf("instance A still serves %d after B's Invalidate", got)
	}
}

// a panicking Observer inside getMany's f.mu section leaves f.mu locked: every later
// call of the function blocks, ignoring its context.
func TestRegressionBatchObserverPanicHoldsMutex(t *testing.T) {
	var once atomic.Bool
	obs := cached.ObserverFunc(func(e cached.Event) {
		if e.Kind == cached.Miss && once.CompareAndSwap(false, true) {
			panic("observer bug")
		}
	})
	c := newCache(t, cached.WithObserver(obs))
	get := cached.WrapBatch(c, "b", func(_ context.Context, ks []int) (map[int]int, error) {
		m := map[int]int{}
		for _, k := range ks {
			m[k] = k
		}
		return m, nil
	})
	func() {
		defer func() { recover() }()
		get(context.Background(), []int{1})
	}()
	returnsWithin(t, "a batch call after an observer panic", func(ctx context.Context) { get(ctx, []int{2}) })
}

// LocalCost's cost function runs under f.mu (inside otter Set); a panic there leaves
// f.mu locked.
func TestRegressionLocalCostPanicHoldsMutex(t *testing.T) {
	c := newCache(t)
	f := cached.NewFunc(c, "f", func(_ context.Context, k int) (string, error) { return "x", nil },
		cached.LocalCost(100, func(v string) uint32 { panic("cost bug") }))
	func() {
		defer func() { recover() }()
		f.Get(context.Background(), 1) // Background: flight on the caller's goroutine
	}()
	returnsWithin(t, "Get after a cost-function panic", func(ctx context.Context) { f.Get(ctx, 2) })
}

// returnsWithin fails t if call, given a context that ends after 100ms, has not returned a
// second later: the sign of a lock left held or a flight that never ends.
func returnsWithin(t *testing.T, what string, call func(ctx context.Context)) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		call(ctx)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatalf("%s blocked past its context's deadline", what)
	}
}

// A hit allocates nothing, with or without a static Policy.
func TestRegressionHitAllocs(t *testing.T) {
	c := newCache(t)
	f := cached.NewFunc(c, "f", func(_ context.Context, k int) (int, error) { return k, nil })
	p := staticPolicy{&cached.Rules{}}
	fp := cached.NewFunc(c, "fp", func(_ context.Context, k string) (int, error) { return 1, nil }, cached.WithPolicy(p))
	ctx := context.Background()
	f.Get(ctx, 7)
	fp.Get(ctx, "k")
	if n := testing.AllocsPerRun(1000, func() { f.Get(ctx, 7) }); n != 0 {
		t.Errorf("hit allocs = %v", n)
	}
	if n := testing.AllocsPerRun(1000, func() { fp.Get(ctx, "k") }); n != 0 {
		t.Errorf("policy hit allocs = %v", n)
	}
}

type tid int

func (t tid) MarshalText() ([]byte, error) {
	if t < 0 {
		return nil, errors.New("bad id")
	}
	if t == 0 {
		return nil, nil // the "unset" id
	}
	return []byte("x"), nil
}

// in a batch, a key whose MarshalText fails is read from the Store under prefix+"",
// which is the key of the argument whose string form is "".
func TestRegressionBatchEncodeErrorReadsEmptyKey(t *testing.T) {
	st := newMemStore()
	c := newCache(t, cached.WithStore(st), quiet)
	get := cached.WrapBatch(c, "b", func(_ context.Context, ks []tid) (map[tid]string, error) {
		m := map[tid]string{}
		for _, k := range ks {
			if k == 0 {
				m[k] = "zero's value"
			} else {
				m[k] = "own"
			}
		}
		return m, nil
	})
	get(context.Background(), []tid{0})
	m, _ := get(context.Background(), []tid{-1})
	if m[-1] != "own" {
		t.Errorf("key -1 got %q", m[-1])
	}
}

// Refresh whose new value refuses caching leaves the old value served as fresh.
func TestRegressionRefreshUncacheableKeepsOld(t *testing.T) {
	c := newCache(t, cached.Jitter(nil))
	var n atomic.Int64
	f := cached.NewFunc(c, "tok", func(context.Context, string) (token, error) {
		if n.Add(1) == 1 {
			return token{Value: "v1"}, nil
		}
		return token{Value: "v2", Expires: -1}, nil
	}, cached.FreshnessFunc(tokenFreshness))
	ctx := context.Background()
	f.Get(ctx, "k")
	r, _ := f.Refresh(ctx, "k")
	g, _ := f.Get(ctx, "k")
	if r.Value != g.Value {
		t.Errorf("Refresh returned %q, then Get returned %q (old value still served fresh)", r.Value, g.Value)
	}
}

// stale-while-revalidate: once the value becomes uncacheable the old stale entry keeps
// being served and every Get starts another load.
func TestRegressionSWRUncacheableServesOldForever(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Second), cached.StaleWhileRevalidate(time.Hour), cached.Jitter(nil))
		defer c.Close()
		var n atomic.Int64
		get := cached.Wrap(c, "tok", func(context.Context, string) (token, error) {
			if n.Add(1) == 1 {
				return token{Value: "v1"}, nil
			}
			return token{Value: "v2", Expires: -1}, nil
		}, cached.FreshnessFunc(tokenFreshness))
		ctx := context.Background()
		get(ctx, "k")
		time.Sleep(2 * time.Second)
		var last token
		for range 5 {
			last, _ = get(ctx, "k")
			synctest.Wait()
		}
		if last.Value == "v1" {
			t.Errorf("after 5 Gets still serving stale v1; loads = %d", n.Load())
		}
	})
}

// Close called from an inline loader deadlocks (Close waits for the flight that calls it).
func TestRegressionCloseFromInlineLoader(t *testing.T) {
	c := cached.New()
	get := cached.Wrap(c, "x", func(context.Context, int) (int, error) { c.Close(); return 1, nil })
	done := make(chan struct{})
	go func() { get(context.Background(), 1); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Close inside an inline loader deadlocked")
	}
}

// Put while Decide fails writes under the function's own prefix; once the Policy
// recovers the old value is served from the Store.
func TestRegressionPutDuringPolicyFailureLost(t *testing.T) {
	store := newMemStore()
	var failing atomic.Bool
	p := &mapPolicy{}
	p.set(map[string]*cached.Rules{"u": {Options: []cached.Option{cached.Version("v2")},
		Decide: func(ctx context.Context, cl cached.Call) (cached.Decision, error) {
			if failing.Load() {
				return cached.Decision{}, errors.New("lua down")
			}
			return cached.Decision{}, nil
		}}})
	c := newCache(t, cached.WithPolicy(p), cached.WithStore(store), quiet)
	f := cached.NewFunc(c, "u", func(context.Context, int) (string, error) { return "old", nil })
	ctx := context.Background()
	f.Get(ctx, 1)
	failing.Store(true)
	err := f.Put(ctx, 1, "new")
	failing.Store(false)
	v, _ := f.Get(ctx, 1)
	t.Logf("put err = %v; store keys = %v", err, store.setKeys())
	if v != "new" {
		t.Errorf("Get after Put(new) = %q", v)
	}
}

// with the default jitter a value with its own TTL is served past that TTL.
func TestRegressionJitterStretchesFreshnessTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		var n atomic.Int64
		get := cached.Wrap(c, "tok", func(_ context.Context, k int) (token, error) {
			n.Add(1)
			return token{Value: "t", Expires: time.Minute}, nil
		}, cached.FreshnessFunc(tokenFreshness))
		ctx := context.Background()
		for k := range 100 {
			get(ctx, k)
		}
		time.Sleep(time.Minute + time.Second)
		for k := range 100 {
			get(ctx, k)
		}
		if reloads := n.Load() - 100; reloads < 100 {
			t.Errorf("%d of 100 tokens served after their own 1m expiry", 100-reloads)
		}
	})
}

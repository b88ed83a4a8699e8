package cached_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

func TestHitDoesNotLoad(t *testing.T) {
	c := newCache(t)
	l := countingLoader(func(_ context.Context, id int64) (user, error) {
		return user{ID: id, Name: fmt.Sprint("u", id)}, nil
	})
	get := cached.Wrap(c, "user", l.load)
	ctx := context.Background()
	for i := range 3 {
		u, err := get(ctx, 7)
		if err != nil || u.ID != 7 || u.Name != "u7" {
			t.Fatalf("call %d: got %v, %v; want {7 u7}, nil", i, u, err)
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("loader calls = %d; want 1", n)
	}
	st := c.Stats().Funcs["user"]
	if st.Hits != 2 || st.Misses != 1 || st.Loads != 1 {
		t.Errorf("stats = %+v; want 2 hits, 1 miss, 1 load", st)
	}
}

// TestStormLoadsOnce: 1,000 goroutines on a cold key cause exactly one load, and all of
// them get its result.
func TestStormLoadsOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		release := make(chan struct{})
		l := countingLoader(func(_ context.Context, id int64) (user, error) {
			<-release
			return user{ID: id, Name: "storm"}, nil
		})
		get := cached.Wrap(c, "user", l.load)
		const n = 1000
		var wg sync.WaitGroup
		results := make([]user, n)
		errs := make([]error, n)
		ctx, cancel := context.WithCancel(context.Background()) // a cancellable ctx: loads run detached
		defer cancel()
		for i := range n {
			wg.Go(func() { results[i], errs[i] = get(ctx, 42) })
		}
		synctest.Wait() // every caller is now waiting on the one flight
		if got := l.calls.Load(); got != 1 {
			t.Fatalf("loader calls while blocked = %d; want 1", got)
		}
		close(release)
		wg.Wait()
		for i := range n {
			if errs[i] != nil || results[i].Name != "storm" {
				t.Fatalf("caller %d: got %v, %v; want the shared result", i, results[i], errs[i])
			}
		}
		if got := l.calls.Load(); got != 1 {
			t.Errorf("loader calls = %d; want 1", got)
		}
		st := c.Stats().Funcs["user"]
		if st.Misses != n || st.Coalesced != n-1 {
			t.Errorf("misses = %d, coalesced = %d; want %d, %d", st.Misses, st.Coalesced, n, n-1)
		}
	})
}

// TestStoredBeforeFlightEnds: the value is in the tier before the shared load returns, so
// a Get right after it hits (eko/gocache #251).
func TestStoredBeforeFlightEnds(t *testing.T) {
	for _, cancellable := range []bool{false, true} {
		t.Run(fmt.Sprint("cancellable=", cancellable), func(t *testing.T) {
			c := newCache(t)
			l := countingLoader(func(_ context.Context, id int64) (int64, error) { return id * 2, nil })
			f := cached.NewFunc(c, "double", l.load)
			ctx := context.Background()
			if cancellable {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer cancel()
			}
			for i := range int64(200) {
				if v, err := f.Get(ctx, i); v != i*2 || err != nil {
					t.Fatalf("first Get(%d) = %d, %v", i, v, err)
				}
				if v, err := f.Get(ctx, i); v != i*2 || err != nil {
					t.Fatalf("second Get(%d) = %d, %v", i, v, err)
				}
			}
			if got := l.calls.Load(); got != 200 {
				t.Errorf("loader calls = %d; want 200 (one per key)", got)
			}
		})
	}
}

func TestErrorsAreNotCached(t *testing.T) {
	c := newCache(t)
	boom := errors.New("db timeout")
	l := countingLoader(func(context.Context, int64) (user, error) { return user{}, boom })
	get := cached.Wrap(c, "user", l.load)
	for range 3 {
		if _, err := get(context.Background(), 1); err != boom {
			t.Fatalf("err = %v; want the loader's error unchanged", err)
		}
	}
	if got := l.calls.Load(); got != 3 {
		t.Errorf("loader calls = %d; want 3: errors must not be cached", got)
	}
	if st := c.Stats().Funcs["user"]; st.LoadErrors != 3 {
		t.Errorf("LoadErrors = %d; want 3", st.LoadErrors)
	}
}

// TestCallerCancelLeavesAtOnce: a cancelled caller returns ctx.Err() at once; the load
// goes on for the others under a context that keeps the first caller's values and is not
// cancelled with it.
func TestCallerCancelLeavesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		type ctxKey struct{}
		release := make(chan struct{})
		var loadCtx context.Context
		l := countingLoader(func(ctx context.Context, id int64) (string, error) {
			loadCtx = ctx
			<-release
			return "v", nil
		})
		get := cached.Wrap(c, "thing", l.load)

		first, cancelFirst := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "trace-1"))
		var firstErr error
		firstDone := make(chan struct{})
		go func() {
			_, firstErr = get(first, 1)
			close(firstDone)
		}()
		synctest.Wait() // the first caller leads the flight
		var second string
		var secondErr error
		secondDone := make(chan struct{})
		go func() {
			second, secondErr = get(context.Background(), 1)
			close(secondDone)
		}()
		synctest.Wait()

		cancelFirst()
		<-firstDone // returns although the load is still blocked
		if !errors.Is(firstErr, context.Canceled) {
			t.Fatalf("cancelled caller: err = %v; want context.Canceled", firstErr)
		}
		if err := loadCtx.Err(); err != nil {
			t.Fatalf("load context ended with the first caller: %v", err)
		}
		if got := loadCtx.Value(ctxKey{}); got != "trace-1" {
			t.Errorf("load context value = %v; want the first caller's values kept", got)
		}
		close(release)
		<-secondDone
		if second != "v" || secondErr != nil {
			t.Errorf("second caller: got %q, %v; want v, nil", second, secondErr)
		}
		// The cancelled caller's load was stored for the next one.
		if v, err := get(context.Background(), 1); v != "v" || err != nil || l.calls.Load() != 1 {
			t.Errorf("after: got %q, %v with %d loads; want a hit", v, err, l.calls.Load())
		}
	})
}

func TestLoadTimeoutBoundsDetachedLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.LoadTimeout(3 * time.Second))
		defer c.Close()
		get := cached.Wrap(c, "slow", func(ctx context.Context, id int64) (int, error) {
			<-ctx.Done() // a loader that honours its context and never finishes otherwise
			return 0, ctx.Err()
		})
		start := time.Now()
		_, err := get(context.Background(), 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want context.DeadlineExceeded", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("load ran %v; want the 3s LoadTimeout", d)
		}
	})
}

func TestAlreadyCancelledCallerDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		release := make(chan struct{})
		get := cached.Wrap(c, "x", func(context.Context, int) (int, error) { <-release; return 1, nil })
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := get(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
		close(release)
	})
}

// TestPanicBecomesError: a loader panic is an error for every waiter, nothing hangs,
// nothing is cached, and the next call loads again.
func TestPanicBecomesError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		release := make(chan struct{})
		panicking := true
		l := countingLoader(func(context.Context, string) (int, error) {
			<-release
			if panicking {
				panic("nil map write")
			}
			return 5, nil
		})
		get := cached.Wrap(c, "p", l.load)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		errs := make([]error, 10)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { _, errs[i] = get(ctx, "k") })
		}
		synctest.Wait()
		close(release)
		wg.Wait()
		for i, err := range errs {
			var pe *cached.PanicError
			if !errors.Is(err, cached.ErrPanic) || !errors.As(err, &pe) || pe.Value != "nil map write" {
				t.Fatalf("waiter %d: err = %v; want a *PanicError for the panic", i, err)
			}
		}
		panicking = false
		if v, err := get(ctx, "k"); v != 5 || err != nil {
			t.Errorf("after the panic: got %d, %v; want a new load", v, err)
		}
		if got := l.calls.Load(); got != 2 {
			t.Errorf("loader calls = %d; want 2", got)
		}
	})
}

func TestPanicOnBackgroundContext(t *testing.T) {
	// With a context that cannot be cancelled the load runs on the caller's goroutine:
	// the panic must still come back as an error.
	c := newCache(t)
	get := cached.Wrap(c, "p", func(context.Context, string) (int, error) { panic(errors.New("boom")) })
	_, err := get(context.Background(), "k")
	if !errors.Is(err, cached.ErrPanic) {
		t.Errorf("err = %v; want ErrPanic", err)
	}
}

// TestNoSecondLoadAfterFlight: callers that keep arriving while a key's flight ends never
// start a second load; the flight's value is in the tier before the flight leaves.
func TestNoSecondLoadAfterFlight(t *testing.T) {
	c := newCache(t)
	var mu sync.Mutex
	loads := map[int]int{}
	get := cached.Wrap(c, "k", func(_ context.Context, k int) (int, error) {
		mu.Lock()
		loads[k]++
		mu.Unlock()
		return k, nil
	})
	ctx, cancel := context.WithCancel(context.Background()) // loads run on their own goroutine
	defer cancel()
	for k := range 2000 {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range 20 {
					get(ctx, k)
				}
			})
		}
		wg.Wait()
	}
	for k, n := range loads {
		if n != 1 {
			t.Fatalf("key %d loaded %d times; want 1", k, n)
		}
	}
}

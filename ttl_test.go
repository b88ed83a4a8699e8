package cached_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/jitter"
)

func TestTTLExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Minute), cached.Jitter(jitter.None()))
		defer c.Close()
		l := countingLoader(func(context.Context, int) (int, error) { return 1, nil })
		get := cached.Wrap(c, "x", l.load)
		ctx := context.Background()
		get(ctx, 1)
		time.Sleep(59 * time.Second)
		get(ctx, 1)
		if n := l.calls.Load(); n != 1 {
			t.Fatalf("loads before expiry = %d; want 1", n)
		}
		time.Sleep(2 * time.Second)
		get(ctx, 1)
		if n := l.calls.Load(); n != 2 {
			t.Errorf("loads after expiry = %d; want 2", n)
		}
	})
}

// TestJitterSpreadsExpiry: keys written together expire at different times.
func TestJitterSpreadsExpiry(t *testing.T) {
	for _, tc := range []struct {
		name   string
		jitter jitter.Func
		spread bool
	}{
		{"none", jitter.None(), false},
		{"percent", jitter.Percent(0.5, jitter.WithRand(rand.New(rand.NewPCG(1, 2)))), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := cached.New(cached.TTL(100*time.Second), cached.Jitter(tc.jitter))
				defer c.Close()
				l := countingLoader(func(_ context.Context, k int) (int, error) { return k, nil })
				get := cached.Wrap(c, "x", l.load)
				ctx := context.Background()
				const keys = 100
				for k := range keys {
					get(ctx, k)
				}
				// Just before the base TTL no key has expired without jitter; at it,
				// the middle of the jitter range, about half have with jitter.
				if tc.spread {
					time.Sleep(100 * time.Second)
				} else {
					time.Sleep(99 * time.Second)
				}
				for k := range keys {
					get(ctx, k)
				}
				reloaded := l.calls.Load() - keys
				if tc.spread && (reloaded < 25 || reloaded > 75) {
					t.Errorf("reloaded %d of %d keys at the base TTL; want about half", reloaded, keys)
				}
				if !tc.spread && reloaded != 0 {
					t.Errorf("reloaded %d keys before the TTL without jitter; want 0", reloaded)
				}
			})
		})
	}
}

func TestNegativeCaching(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.NegativeTTL(10*time.Second), cached.Jitter(nil))
		defer c.Close()
		l := countingLoader(func(context.Context, int64) (user, error) {
			return user{}, cached.ErrNotFound
		})
		f := cached.NewFunc(c, "user", l.load)
		ctx := context.Background()
		for range 3 {
			if _, err := f.Get(ctx, 404); !errors.Is(err, cached.ErrNotFound) {
				t.Fatalf("err = %v; want ErrNotFound", err)
			}
		}
		if n := l.calls.Load(); n != 1 {
			t.Errorf("loads = %d; want 1: not-found is cached", n)
		}
		if st := c.Stats().Funcs["user"]; st.NegativeHits != 2 {
			t.Errorf("NegativeHits = %d; want 2", st.NegativeHits)
		}
		time.Sleep(11 * time.Second)
		f.Get(ctx, 404)
		if n := l.calls.Load(); n != 2 {
			t.Errorf("loads after NegativeTTL = %d; want 2", n)
		}
		// Put replaces the cached not-found at once (the record was just created).
		f.Put(ctx, 404, user{ID: 404})
		if u, err := f.Get(ctx, 404); err != nil || u.ID != 404 {
			t.Errorf("after Put: got %v, %v; want the new record", u, err)
		}
	})
}

func TestNotFoundOptionMarksOtherErrors(t *testing.T) {
	c := newCache(t, cached.NotFound(func(err error) bool { return errors.Is(err, sql.ErrNoRows) }))
	l := countingLoader(func(context.Context, int64) (user, error) { return user{}, sql.ErrNoRows })
	get := cached.Wrap(c, "user", l.load)
	ctx := context.Background()
	_, first := get(ctx, 1)
	_, second := get(ctx, 1)
	if first != sql.ErrNoRows {
		t.Errorf("first err = %v; want the loader's error unchanged", first)
	}
	if !errors.Is(second, sql.ErrNoRows) || !errors.Is(second, cached.ErrNotFound) {
		t.Errorf("replayed err = %v; want it to match sql.ErrNoRows and ErrNotFound", second)
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("loads = %d; want 1", n)
	}
}

func TestNegativeTTLZeroOptsOut(t *testing.T) {
	c := newCache(t)
	l := countingLoader(func(context.Context, string) (int, error) { return 0, cached.ErrNotFound })
	get := cached.Wrap(c, "phone", l.load, cached.NegativeTTL(0))
	for range 3 {
		if _, err := get(context.Background(), "+1555"); !errors.Is(err, cached.ErrNotFound) {
			t.Fatalf("err = %v; want ErrNotFound", err)
		}
	}
	if n := l.calls.Load(); n != 3 {
		t.Errorf("loads = %d; want 3: NegativeTTL(0) caches no not-found", n)
	}
}

// TestStaleWhileRevalidate: within the window an expired value is served at once and one
// background refresh runs, however many callers there are.
func TestStaleWhileRevalidate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Minute), cached.Jitter(nil), cached.StaleWhileRevalidate(time.Minute))
		defer c.Close()
		var mu sync.Mutex
		version := 1
		release := make(chan struct{})
		l := countingLoader(func(context.Context, string) (int, error) {
			mu.Lock()
			v := version
			mu.Unlock()
			if v > 1 {
				<-release
			}
			return v, nil
		})
		get := cached.Wrap(c, "cfg", l.load)
		ctx := context.Background()
		get(ctx, "k")
		mu.Lock()
		version = 2
		mu.Unlock()
		time.Sleep(90 * time.Second) // expired, within the stale window

		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if v, err := get(ctx, "k"); v != 1 || err != nil {
					t.Errorf("stale read: got %d, %v; want 1 at once", v, err)
				}
			})
		}
		wg.Wait() // every caller returned while the refresh is blocked
		synctest.Wait()
		if n := l.calls.Load(); n != 2 {
			t.Fatalf("loads = %d; want 1 + exactly one background refresh", n)
		}
		close(release)
		synctest.Wait()
		if v, _ := get(ctx, "k"); v != 2 {
			t.Errorf("after refresh: got %d; want 2", v)
		}
		st := c.Stats().Funcs["cfg"]
		if st.StaleServed != 100 || st.Refreshes != 1 {
			t.Errorf("StaleServed = %d, Refreshes = %d; want 100, 1", st.StaleServed, st.Refreshes)
		}
		// Past the window the value is not served.
		time.Sleep(3 * time.Minute)
		mu.Lock()
		version = 3
		mu.Unlock()
		if v, _ := get(ctx, "k"); v != 3 {
			t.Errorf("past the window: got %d; want a blocking load of 3", v)
		}
	})
}

func TestStaleIfError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Minute), cached.Jitter(nil), cached.StaleIfError(5*time.Minute))
		defer c.Close()
		fail := false
		boom := errors.New("db down")
		get := cached.Wrap(c, "cfg", func(context.Context, string) (string, error) {
			if fail {
				return "", boom
			}
			return "good", nil
		})
		ctx := context.Background()
		get(ctx, "k")
		fail = true
		time.Sleep(2 * time.Minute)
		if v, err := get(ctx, "k"); v != "good" || err != nil {
			t.Errorf("within the window: got %q, %v; want the stale value", v, err)
		}
		time.Sleep(5 * time.Minute)
		if _, err := get(ctx, "k"); err != boom {
			t.Errorf("past the window: err = %v; want the loader's error", err)
		}
	})
}

// TestEarlyRefresh: with EarlyRefresh, hits shortly before expiry refresh in the background
// (XFetch); without it, nothing reloads before expiry.
func TestEarlyRefresh(t *testing.T) {
	for _, beta := range []float64{0, 1} {
		synctest.Test(t, func(t *testing.T) {
			c := cached.New(cached.TTL(time.Minute), cached.Jitter(nil), cached.EarlyRefresh(beta))
			defer c.Close()
			l := countingLoader(func(context.Context, int) (int, error) {
				time.Sleep(10 * time.Second) // delta: the load takes 10s
				return 1, nil
			})
			get := cached.Wrap(c, "slow", l.load)
			ctx := context.Background()
			get(ctx, 1)
			time.Sleep(49 * time.Second) // 1s before expiry: P(refresh) per hit = e^-0.1 with beta 1
			for range 50 {
				get(ctx, 1)
			}
			synctest.Wait()
			time.Sleep(10 * time.Second)
			want := int64(1)
			if beta > 0 {
				want = 2
			}
			if n := l.calls.Load(); n != want {
				t.Errorf("beta %v: loads = %d; want %d", beta, n, want)
			}
		})
	}
}

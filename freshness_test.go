package cached_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// token is a value that knows when it expires.
type token struct {
	Value   string
	Expires time.Duration // from issue, for the test
}

func tokenFreshness(t token) cached.Freshness {
	switch {
	case t.Expires < 0:
		return cached.Freshness{TTL: -1} // do not cache
	case t.Expires == 0:
		return cached.Freshness{} // the configured TTL
	}
	return cached.Freshness{TTL: t.Expires, StaleWhileRevalidate: -1}
}

// TestFreshnessFuncValueChoosesTTL: a value can choose its own TTL, refuse to be cached,
// or leave it to the configuration (LESSONS 2: eko/gocache #101).
func TestFreshnessFuncValueChoosesTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		c := cached.New(cached.TTL(time.Hour), cached.Jitter(nil), cached.StaleWhileRevalidate(time.Hour),
			cached.WithStore(store))
		defer c.Close()
		lifetimes := map[string]time.Duration{"short": 10 * time.Second, "never": -1, "default": 0}
		l := countingLoader(func(_ context.Context, k string) (token, error) {
			return token{Value: k, Expires: lifetimes[k]}, nil
		})
		get := cached.Wrap(c, "token", l.load, cached.FreshnessFunc(tokenFreshness))
		ctx := context.Background()
		for _, k := range []string{"short", "never", "default"} {
			get(ctx, k)
			get(ctx, k)
		}
		if n := l.calls.Load(); n != 4 {
			t.Fatalf("loads = %d; want 4 (never is not cached)", n)
		}
		if m, _ := store.item(":token::short"); m.ttl != 10*time.Second {
			t.Errorf("store TTL of short = %v; want 10s (its own TTL, no stale window)", m.ttl)
		}
		if m, _ := store.item(":token::default"); m.ttl != 2*time.Hour {
			t.Errorf("store TTL of default = %v; want 2h (configured TTL and window)", m.ttl)
		}
		time.Sleep(11 * time.Second)
		get(ctx, "short") // expired, and its own StaleWhileRevalidate: -1 means no stale serving
		get(ctx, "default")
		if n := l.calls.Load(); n != 5 {
			t.Errorf("loads after 11s = %d; want 5 (short reloaded at once, default fresh)", n)
		}
	})
}

func TestFreshnessFuncTypeMismatchPanics(t *testing.T) {
	c := newCache(t)
	defer func() {
		if recover() == nil {
			t.Error("no panic for a FreshnessFunc of another type")
		}
	}()
	cached.Wrap(c, "x", func(context.Context, int) (int, error) { return 0, nil },
		cached.FreshnessFunc(func(string) cached.Freshness { return cached.Freshness{} }))
}

func TestFreshnessOf(t *testing.T) {
	got := cached.FreshnessOf(cached.TTL(time.Hour), cached.StaleIfError(time.Minute), cached.Version("x"),
		cached.TTL(2*time.Hour))
	want := cached.Freshness{TTL: 2 * time.Hour, StaleIfError: time.Minute}
	if got != want {
		t.Errorf("FreshnessOf = %+v; want %+v (the last TTL, unset windows 0)", got, want)
	}
	if got := cached.FreshnessOf(); got != (cached.Freshness{}) {
		t.Errorf("FreshnessOf() = %+v; want zero: the defaults are not options", got)
	}
}

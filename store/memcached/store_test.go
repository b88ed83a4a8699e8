package memcached_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
	"github.com/cachedgo/cached/storetest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestConformance runs the Store conformance suite on a real memcached server, and on a
// ring of three.
func TestConformance(t *testing.T) {
	one := memcachedtest.Start(t)
	ring := []string{memcachedtest.Start(t).Addr, memcachedtest.Start(t).Addr, memcachedtest.Start(t).Addr}
	for name, addrs := range map[string][]string{"one": {one.Addr}, "ring": ring} {
		t.Run(name, func(t *testing.T) {
			s := memcached.New(addrs)
			t.Cleanup(func() { s.Close() })
			storetest.Run(t, func(*testing.T) cached.Store { return s }, storetest.Fencing(),
				storetest.TimePrecision(time.Nanosecond))
		})
	}
}

func TestRingSpreadsKeys(t *testing.T) {
	servers := []*memcachedtest.Server{memcachedtest.Start(t), memcachedtest.Start(t), memcachedtest.Start(t)}
	addrs := []string{servers[0].Addr, servers[1].Addr, servers[2].Addr}
	s := memcached.New(addrs)
	defer s.Close()
	ctx := context.Background()
	for i := range 300 {
		if err := s.Set(ctx, "k"+string(rune('a'+i%26))+time.Duration(i).String(), cached.Item{Value: []byte("v")}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range addrs {
		c := memcache.New(a)
		n := 0
		for i := range 300 {
			k := "k" + string(rune('a'+i%26)) + time.Duration(i).String()
			if _, err := c.Get(k); err == nil {
				n++
			}
		}
		if n < 50 {
			t.Errorf("server %s holds %d of 300 keys; want a share of about 100", a, n)
		}
	}
}

func TestTooLargeIsSkippedAndCounted(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr}, memcached.MaxItemSize(1000))
	defer s.Close()
	ctx := context.Background()
	if err := s.Set(ctx, "big", cached.Item{Value: bytes.Repeat([]byte("x"), 2000)}, time.Minute); err != nil {
		t.Fatalf("Set of a large value: %v; want nil (skipped)", err)
	}
	if _, ok, _ := s.Get(ctx, "big"); ok {
		t.Errorf("a value over MaxItemSize was stored")
	}
	if st := s.Stats(); st.TooLarge != 1 {
		t.Errorf("TooLarge = %d; want 1", st.TooLarge)
	}
}

// TestEngineReturnsLargeValue: a value too large for memcached is still returned by the
// call that loaded it.
func TestEngineReturnsLargeValue(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr}, memcached.MaxItemSize(1000))
	defer s.Close()
	c := cached.New(cached.WithStore(s))
	defer c.Close()
	get := cached.Wrap(c, "blob", func(context.Context, int) ([]byte, error) { return bytes.Repeat([]byte("y"), 5000), nil })
	if b, err := get(context.Background(), 1); err != nil || len(b) != 5000 {
		t.Errorf("got %d bytes, %v; want the loaded 5000", len(b), err)
	}
}

func TestForeignValueIsMissDeletedAndCounted(t *testing.T) {
	srv := memcachedtest.Start(t)
	raw := memcache.New(srv.Addr)
	raw.Set(&memcache.Item{Key: "legacy", Value: []byte(`{"written":"by another client"}`)})
	s := memcached.New([]string{srv.Addr})
	defer s.Close()
	it, ok, err := s.Get(context.Background(), "legacy")
	if ok || err != nil {
		t.Fatalf("Get of a foreign value = %+v, %v, %v; want a miss", it, ok, err)
	}
	if _, err := raw.Get("legacy"); !errors.Is(err, memcache.ErrCacheMiss) {
		t.Errorf("the foreign value was not deleted: %v", err)
	}
	if st := s.Stats(); st.Corrupt != 1 {
		t.Errorf("Corrupt = %d; want 1", st.Corrupt)
	}
}

// TestServerDownBreakerAndRecovery: while the server is down calls fail (the engine loads
// instead), the breaker then fails them at once, and after the server is back the store
// recovers by itself.
func TestServerDownBreakerAndRecovery(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr}, memcached.Timeout(50*time.Millisecond),
		memcached.Breaker(3, 200*time.Millisecond))
	defer s.Close()
	c := cached.New(cached.WithStore(s), cached.WithLogger(slog.New(slog.DiscardHandler)), cached.LocalSize(0))
	defer c.Close()
	var loads atomic.Int64
	get := cached.Wrap(c, "user", func(_ context.Context, id int) (int, error) { loads.Add(1); return id, nil })
	ctx := context.Background()

	srv.Stop()
	for i := range 20 {
		if v, err := get(ctx, i); err != nil || v != i {
			t.Fatalf("with the server down: got %d, %v; want the loaded value, no error", v, err)
		}
	}
	st := s.Stats()
	if st.Trips == 0 || st.Rejected == 0 {
		t.Errorf("stats = %+v; want the breaker tripped and calls rejected at once", st)
	}
	if st.Errors > 10 {
		t.Errorf("Errors = %d: calls kept paying the timeout while the breaker should be open", st.Errors)
	}

	srv.Restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := s.Set(ctx, "probe", cached.Item{Value: []byte("v")}, time.Minute); err == nil {
			if _, ok, _ := s.Get(ctx, "probe"); ok {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover after the server came back: %+v", s.Stats())
		}
		time.Sleep(50 * time.Millisecond) // waiting for the breaker's cooldown to pass
	}
	before := loads.Load()
	get(ctx, 100)
	get(ctx, 100)
	if n := loads.Load() - before; n != 1 {
		t.Errorf("after recovery: %d loads for two calls; want 1 (the second read from memcached)", n)
	}
}

// TestSharedStoreAcrossInstances: two engines on one memcached load a key once.
func TestSharedStoreAcrossInstances(t *testing.T) {
	srv := memcachedtest.Start(t)
	var loads atomic.Int64
	load := func(_ context.Context, id int64) (string, error) { loads.Add(1); return "user", nil }
	ctx := context.Background()
	for range 2 {
		s := memcached.New([]string{srv.Addr})
		c := cached.New(cached.WithStore(s))
		if v, err := cached.Wrap(c, "user", load)(ctx, 1); v != "user" || err != nil {
			t.Fatalf("got %q, %v", v, err)
		}
		c.Close()
		s.Close()
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("loads = %d; want 1: the second instance reads memcached", n)
	}
}

func quietLogs() cached.Option { return cached.WithLogger(slog.New(slog.DiscardHandler)) }

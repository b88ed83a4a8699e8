package bus_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// TestInvalidationPropagates is the point of the bus: two Caches, each with its
// in-process tier in front of one shared memcached, each on its own etcd bus. After
// Invalidate on A, B must stop serving the old value from its in-process tier within a
// second. It measures the time from the start of A's Invalidate to the first Get on B
// that returns the new value, 200 times, and reports p50 and p99.
func TestInvalidationPropagates(t *testing.T) {
	mc := memcachedtest.Start(t)
	store := memcached.New([]string{mc.Addr})
	t.Cleanup(func() { store.Close() })
	p := bus.Prefix(prefix(t))
	busA, _ := newBus(t, srv, p)
	busB, _ := newBus(t, srv, p)

	var version atomic.Int64 // the source of truth
	var loadsB atomic.Int64
	load := func(_ context.Context, id string) (int64, error) { return version.Load(), nil }
	a := cached.New(cached.WithStore(store), cached.WithBus(busA))
	t.Cleanup(func() { a.Close() })
	b := cached.New(cached.WithStore(store), cached.WithBus(busB))
	t.Cleanup(func() { b.Close() })
	fa := cached.NewFunc(a, "doc", load)
	fb := cached.NewFunc(b, "doc", func(ctx context.Context, id string) (int64, error) {
		loadsB.Add(1)
		return load(ctx, id)
	})

	ctx := context.Background()
	const rounds = 200
	lat := make([]time.Duration, 0, rounds)
	for i := range int64(rounds) {
		if v, err := fb.Get(ctx, "k"); err != nil || v != i {
			t.Fatalf("round %d: b's Get = %d, %v; want %d", i, v, err, i)
		}
		loads := loadsB.Load()
		if v, _ := fb.Get(ctx, "k"); v != i || loadsB.Load() != loads {
			t.Fatalf("round %d: b did not serve %d from its in-process tier", i, i)
		}
		version.Store(i + 1)
		start := time.Now()
		if err := fa.Invalidate(ctx, "k"); err != nil {
			t.Fatalf("Invalidate: %v", err)
		}
		for {
			v, err := fb.Get(ctx, "k")
			if err != nil {
				t.Fatalf("b's Get: %v", err)
			}
			if v == i+1 {
				break
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("round %d: b still serves %d 5s after a's Invalidate", i, v)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p50, p99 := lat[len(lat)*50/100], lat[len(lat)*99/100]
	t.Logf("invalidation propagation over %d rounds: p50 %v, p99 %v, max %v (a's Invalidate start to b's first fresh Get)",
		rounds, p50, p99, lat[len(lat)-1])
	sb := busB.Stats()
	t.Logf("bus b: delivered %d, lag p50 %v p99 %v, resyncs %d", sb.Delivered, sb.LagP50, sb.LagP99, sb.Resyncs)
	if p99 >= time.Second {
		t.Errorf("p99 propagation %v; want under 1s", p99)
	}
	if sb.Resyncs != 0 {
		t.Errorf("b resynced %d times; want 0", sb.Resyncs)
	}
}

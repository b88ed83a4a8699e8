package memcached_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// staleRace runs readers, writers and slow loaders on instances that share one memcached
// server (each with its own Store, as separate processes would have) and returns how many
// keys hold a value older than the source of truth once the writers have stopped.
func staleRace(t *testing.T, leases bool) (stale int, st memcached.Stats) {
	srv := memcachedtest.Start(t)
	const (
		keys      = 40
		instances = 4
		readers   = 8
		writers   = 2
		ops       = 400 // per reader and per writer
	)
	var mu sync.Mutex // protects truth
	truth := make([]int64, keys)
	load := func(_ context.Context, k int) (int64, error) {
		mu.Lock()
		v := truth[k]
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // a slow query: the window for a stale set
		return v, nil
	}
	var opts []memcached.Option
	if !leases {
		opts = append(opts, memcached.Leases(0, 0))
	}
	funcs := make([]*cached.Func[int, int64], instances)
	stores := make([]*memcached.Store, instances)
	for i := range funcs {
		stores[i] = memcached.New([]string{srv.Addr}, opts...)
		c := cached.New(cached.WithStore(stores[i]), cached.LocalSize(0), cached.TTL(time.Hour),
			cached.WithLogger(slog.New(slog.DiscardHandler)))
		t.Cleanup(func() { c.Close(); stores[i].Close() })
		funcs[i] = cached.NewFunc(c, "row", load)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			for range ops {
				funcs[rand.IntN(instances)].Get(ctx, rand.IntN(keys))
			}
		})
	}
	for range writers {
		wg.Go(func() {
			for range ops {
				k := rand.IntN(keys)
				mu.Lock()
				truth[k]++
				mu.Unlock()
				if err := funcs[rand.IntN(instances)].Invalidate(ctx, k); err != nil {
					t.Errorf("Invalidate: %v", err)
				}
			}
		})
	}
	wg.Wait()
	for k := range keys {
		v, err := funcs[0].Get(ctx, k)
		if err != nil {
			t.Fatalf("final Get(%d): %v", k, err)
		}
		if v < truth[k] {
			stale++
		}
	}
	for _, s := range stores {
		x := s.Stats()
		st.Leases += x.Leases
		st.LeaseWaits += x.LeaseWaits
		st.LeaseWaited += x.LeaseWaited
		st.LeaseLost += x.LeaseLost
	}
	return stale, st
}

// TestLeasesPreventStaleSets: with leases, no key is left older than the source of truth;
// the same workload without them (plain cache-aside) is reported for comparison.
func TestLeasesPreventStaleSets(t *testing.T) {
	stale, st := staleRace(t, true)
	t.Logf("leases on: %d stale keys of 40; leases %d, waits %d (served by waiting %d), lost write-backs %d",
		stale, st.Leases, st.LeaseWaits, st.LeaseWaited, st.LeaseLost)
	if stale != 0 {
		t.Errorf("%d keys hold a value older than the source of truth with leases on; want 0", stale)
	}
	if st.LeaseLost == 0 {
		t.Errorf("no write-back was dropped: the workload did not exercise the race")
	}
	naive, _ := staleRace(t, false)
	t.Logf("leases off (naive cache-aside): %d stale keys of 40", naive)
}

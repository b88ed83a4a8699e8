package memcached_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// crossProcessStorm sends 50 callers on each of 4 instances (each with its own Store, as
// separate processes have) at one cold key and returns how many loads they caused.
func crossProcessStorm(t *testing.T, opts ...memcached.Option) int64 {
	srv := memcachedtest.Start(t)
	var loads atomic.Int64
	load := func(context.Context, string) (string, error) {
		loads.Add(1)
		time.Sleep(20 * time.Millisecond) // the query
		return "report", nil
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		s := memcached.New([]string{srv.Addr}, opts...)
		c := cached.New(cached.WithStore(s))
		t.Cleanup(func() { c.Close(); s.Close() })
		get := cached.Wrap(c, "report", load)
		for range 50 {
			wg.Go(func() {
				<-start
				if v, err := get(context.Background(), "hot"); v != "report" || err != nil {
					t.Errorf("got %q, %v", v, err)
				}
			})
		}
	}
	close(start)
	wg.Wait()
	return loads.Load()
}

// TestLeasesCoalesceAcrossProcesses: a cold hot key across many processes costs about one
// load with leases (the others wait for the value), one per process without.
func TestLeasesCoalesceAcrossProcesses(t *testing.T) {
	// Generous waits and timeouts: a loaded machine must not turn a wait into a load.
	with := crossProcessStorm(t, memcached.Leases(10*time.Second, 2*time.Second), memcached.Timeout(time.Second))
	without := crossProcessStorm(t, memcached.Leases(0, 0), memcached.Timeout(time.Second))
	t.Logf("loads for 4 instances × 50 callers: %d with leases, %d without", with, without)
	if with != 1 {
		t.Errorf("loads with leases = %d; want 1", with)
	}
	if without < 2 {
		t.Errorf("loads without leases = %d; want one per instance that missed (the test did not race)", without)
	}
}

// TestTwoLevel: the in-process tier in front of memcached serves hot keys from memory for
// its own short TTL; Invalidate and Put clear both tiers.
func TestTwoLevel(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr})
	defer s.Close()
	c := cached.New(cached.WithStore(s), cached.LocalTTL(time.Second))
	defer c.Close()
	var loads atomic.Int64
	f := cached.NewFunc(c, "user", func(_ context.Context, id int) (int64, error) { return loads.Add(1), nil })
	ctx := context.Background()
	f.Get(ctx, 1)
	gets := s.Stats().Gets
	for range 100 {
		f.Get(ctx, 1)
	}
	if n := s.Stats().Gets - gets; n != 0 {
		t.Errorf("%d memcached reads for 100 hot hits; want 0 (served from process memory)", n)
	}
	if err := f.Invalidate(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.Get(ctx, 1); v != 2 {
		t.Errorf("after Invalidate: %d; want a new load (both tiers cleared)", v)
	}
	if err := f.Put(ctx, 1, 99); err != nil {
		t.Fatal(err)
	}
	other := cached.New(cached.WithStore(s))
	defer other.Close()
	if v, _ := cached.Wrap(other, "user", func(context.Context, int) (int64, error) { return -1, nil })(ctx, 1); v != 99 {
		t.Errorf("another instance after Put: %d; want 99 from memcached", v)
	}
}

// TestRingNodeKilled: with one node of three killed mid-test, calls never fail, keys on
// the live nodes are still served from memcached, and only the dead node's breaker opens.
func TestRingNodeKilled(t *testing.T) {
	servers := []*memcachedtest.Server{memcachedtest.Start(t), memcachedtest.Start(t), memcachedtest.Start(t)}
	addrs := []string{servers[0].Addr, servers[1].Addr, servers[2].Addr}
	s := memcached.New(addrs, memcached.Timeout(50*time.Millisecond))
	defer s.Close()
	c := cached.New(cached.WithStore(s), cached.LocalSize(0), quietLogs())
	defer c.Close()
	var loads atomic.Int64
	get := cached.Wrap(c, "k", func(_ context.Context, k int) (int, error) { loads.Add(1); return k, nil })
	ctx := context.Background()
	const n = 300
	for k := range n {
		get(ctx, k)
	}
	servers[1].Stop() // mid-test
	before := loads.Load()
	for k := range n {
		if v, err := get(ctx, k); v != k || err != nil {
			t.Fatalf("Get(%d) with a node down = %d, %v; want the value, no error", k, v, err)
		}
	}
	reloaded := loads.Load() - before
	// About a third of the keys lived on the dead node and are loaded again; the rest are
	// still read from the live nodes.
	if reloaded < n/6 || reloaded > n/2 {
		t.Errorf("%d of %d keys reloaded with one node of three down; want about a third", reloaded, n)
	}
	if st := s.Stats(); st.Trips != 1 {
		t.Errorf("breaker trips = %d; want 1 (the dead node's only)", st.Trips)
	}
}

// TestWaiterTimeoutDoesNotWrite: a reader that stops waiting for another process's lease
// loads without one, so its write-back is dropped: only the lease holder writes.
func TestWaiterTimeoutDoesNotWrite(t *testing.T) {
	srv := memcachedtest.Start(t)
	sa := memcached.New([]string{srv.Addr}, memcached.Leases(10*time.Second, 2*time.Second))
	sb := memcached.New([]string{srv.Addr}, memcached.Leases(10*time.Second, 20*time.Millisecond))
	plain := memcached.New([]string{srv.Addr}, memcached.Leases(0, 0))
	defer sa.Close()
	defer sb.Close()
	defer plain.Close()
	ca, cb := cached.New(cached.WithStore(sa)), cached.New(cached.WithStore(sb))
	defer ca.Close()
	defer cb.Close()
	started, release := make(chan struct{}), make(chan struct{})
	getA := cached.Wrap(ca, "k", func(context.Context, int) (string, error) { close(started); <-release; return "a", nil })
	getB := cached.Wrap(cb, "k", func(context.Context, int) (string, error) { return "b", nil })
	ctx := context.Background()
	done := make(chan struct{})
	go func() { getA(ctx, 1); close(done) }()
	<-started // A holds the lease and is loading
	if v, err := getB(ctx, 1); v != "b" || err != nil {
		t.Fatalf("B after its wait ran out: %q, %v; want its own load", v, err)
	}
	if _, ok, _ := plain.Get(ctx, ":k::1"); ok {
		t.Errorf("B wrote its value without a lease")
	}
	if st := sb.Stats(); st.LeaseLost != 1 {
		t.Errorf("B's LeaseLost = %d; want 1", st.LeaseLost)
	}
	close(release)
	<-done
	if it, ok, _ := plain.Get(ctx, ":k::1"); !ok || string(it.Value) != `"a"` {
		t.Errorf("memcached holds %q, %v; want the lease holder's value", it.Value, ok)
	}
}

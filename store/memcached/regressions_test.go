package memcached_test

// Regression tests for defects found in review: each failed before its fix.

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// A GetMulti that takes the half-open probe never releases it: the breaker stays open forever.
func TestRegressionGetMultiProbeLeaks(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr}, memcached.Breaker(1, 100*time.Millisecond), memcached.Timeout(50*time.Millisecond))
	defer s.Close()
	ctx := context.Background()
	srv.Stop()
	s.Get(ctx, "x") // fails: breaker opens
	srv.Restart(t)
	time.Sleep(150 * time.Millisecond)
	if _, err := s.GetMulti(ctx, []string{"a"}); err != nil {
		t.Fatalf("GetMulti: %v", err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := s.Set(ctx, "k", cached.Item{Value: []byte("v")}, time.Minute); err != nil {
		t.Errorf("Set long after the server recovered: %v (stats %+v)", err, s.Stats())
	}
}

// Misses on a healthy server are charged to its breaker when another server in the batch fails.
func TestRegressionGetMultiMissesTripHealthyServer(t *testing.T) {
	a, b := memcachedtest.Start(t), memcachedtest.Start(t)
	// One failure opens a breaker: only the dead server's may open.
	s := memcached.New([]string{a.Addr, b.Addr}, memcached.Timeout(50*time.Millisecond), memcached.Breaker(1, time.Minute))
	defer s.Close()
	ctx := context.Background()
	b.Stop()
	keys := make([]string, 40)
	for i := range keys {
		keys[i] = "cold" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	s.GetMulti(ctx, keys)
	st := s.Stats()
	t.Logf("%+v", st)
	if st.Trips != 1 {
		t.Errorf("Trips = %d; want 1 (the dead server only)", st.Trips)
	}
	okOnA := 0
	for _, k := range keys {
		if err := s.Set(ctx, k, cached.Item{Value: []byte("v")}, time.Minute); err == nil {
			okOnA++
		}
	}
	if okOnA == 0 {
		t.Errorf("no Set succeeded: the healthy server's breaker was opened by misses")
	}
}

// A Set close to MaxItemSize (default) is refused by memcached with SERVER_ERROR: counted
// as a server failure (Stats.Errors) and returned as an error, not dropped and counted as TooLarge.
func TestRegressionNearLimitValueIsAnError(t *testing.T) {
	srv := memcachedtest.Start(t)
	s := memcached.New([]string{srv.Addr})
	defer s.Close()
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), memcached.DefaultMaxItemSize-35-10)
	var errs int
	for i := range 6 {
		if err := s.Set(ctx, "big"+string(rune('a'+i)), cached.Item{Value: big}, time.Minute); err != nil {
			errs++
			if i == 0 {
				t.Logf("Set: %v", err)
			}
		}
	}
	st := s.Stats()
	t.Logf("errs %d, %+v", errs, st)
	if errs > 0 {
		t.Errorf("a value under MaxItemSize failed to store with an error (contract: dropped without error, counted)")
	}
	if err := s.Set(ctx, "small", cached.Item{Value: []byte("v")}, time.Minute); err != nil {
		t.Errorf("small Set on a healthy server: %v", err)
	}
}

// A Put from an instance that still holds a lease entry from an earlier flight that never
// wrote back (loader error) goes down the write-back path and is dropped: the older value
// written by another instance stays.
func TestRegressionPutDroppedByLeftoverLease(t *testing.T) {
	srv := memcachedtest.Start(t)
	opt := memcached.Leases(10*time.Second, 50*time.Millisecond)
	sa, sb := memcached.New([]string{srv.Addr}, opt), memcached.New([]string{srv.Addr}, opt)
	defer sa.Close()
	defer sb.Close()
	ca := cached.New(cached.WithStore(sa), cached.LocalSize(0), quietLogs())
	cb := cached.New(cached.WithStore(sb), cached.LocalSize(0), quietLogs())
	defer ca.Close()
	defer cb.Close()
	var src atomic.Int64
	src.Store(1)
	var failA atomic.Bool
	failA.Store(true)
	fa := cached.NewFunc(ca, "row", func(context.Context, int) (int64, error) {
		if failA.Load() {
			return 0, errors.New("db blip")
		}
		return src.Load(), nil
	})
	fb := cached.NewFunc(cb, "row", func(context.Context, int) (int64, error) { return src.Load(), nil })
	ctx := context.Background()
	fa.Get(ctx, 1) // miss, lease placed, load fails: lease left behind
	if v, _ := fb.Get(ctx, 1); v != 1 {
		t.Fatalf("B: %d", v)
	}
	src.Store(2)
	if err := fa.Put(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if v, _ := fb.Get(ctx, 1); v != 2 {
		t.Errorf("after Put(2) (nil error): B reads %d from memcached; want 2 (stats A %+v)", v, sa.Stats())
	}
}

// Same at the Store level: an unconditional Set (Fence 0) after a Get miss is dropped.
func TestRegressionStoreSetAfterMissDropped(t *testing.T) {
	srv := memcachedtest.Start(t)
	sa := memcached.New([]string{srv.Addr})
	sb := memcached.New([]string{srv.Addr}, memcached.Leases(10*time.Second, 20*time.Millisecond))
	defer sa.Close()
	defer sb.Close()
	ctx := context.Background()
	sa.Get(ctx, "k") // miss: A leases
	sb.Get(ctx, "k") // waits 20ms, miss
	sb.Set(ctx, "k", cached.Item{Value: []byte("old")}, time.Minute)
	if err := sa.Set(ctx, "k", cached.Item{Value: []byte("new")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	it, _, _ := sb.Get(ctx, "k")
	if string(it.Value) != "new" {
		t.Errorf("after an unconditional Set(new): %q", it.Value)
	}
}

package bench

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/lock"
	"github.com/cachedgo/cached/store/memcached"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// The benchmarks of the Locker on etcd (package lock). Each starts its own etcd server (a
// child process with its data in a temporary directory, on loopback) and, where a Store is
// needed, its own memcached server.

// newEtcdLocker returns a Locker on cli, closed (its session's lease revoked) when b ends,
// before cli is closed.
func newEtcdLocker(b *testing.B, cli *clientv3.Client) *lock.Etcd {
	b.Helper()
	l, err := lock.NewEtcd(cli)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := l.Close(); err != nil {
			b.Error(err)
		}
	})
	return l
}

// BenchmarkEtcdLockUnlock is the cost of a lock.Etcd Lock and Unlock pair on one key, no
// other holder: a transaction that puts the holder's key and reads the mutex's first key,
// then one that deletes it (each an etcd write, so a raft commit and a WAL fsync).
//   - serial: one goroutine locks and unlocks the same key in turn;
//   - parallel: GOMAXPROCS goroutines, each locking and unlocking its own key, through one
//     Locker (one client, one session).
//
// The session (a lease) is granted before timing.
func BenchmarkEtcdLockUnlock(b *testing.B) {
	srv := etcdtest.Start(b)
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		l := newEtcdLocker(b, srv.Client(b))
		lockUnlock(b, l, "bench-serial") // the session
		b.ReportAllocs()
		for b.Loop() {
			lockUnlock(b, l, "bench-serial")
		}
	})
	b.Run("parallel", func(b *testing.B) {
		l := newEtcdLocker(b, srv.Client(b))
		lockUnlock(b, l, "bench-parallel") // the session
		var g atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			key := "bench-parallel-" + strconv.FormatInt(g.Add(1), 10)
			for pb.Next() {
				u, err := l.Lock(ctx, key)
				if err != nil {
					b.Error(err)
					return
				}
				if err := u.Unlock(ctx); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

func lockUnlock(b *testing.B, l *lock.Etcd, key string) {
	ctx := context.Background()
	u, err := l.Lock(ctx, key)
	if err != nil {
		b.Fatal(err)
	}
	if err := u.Unlock(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkColdLoad is a miss on a new cold key through a cached function over a memcached
// Store (leases off, so as to isolate the lock's cost), with one caller, and a loader that
// returns at once:
//   - unlocked: Store get (a miss), load, Store set;
//   - etcd-lock: the same, with WithLocker(lock.Etcd): after the miss the flight takes the
//     lock on the key, reads the Store again (the double check), loads, stores, and answers;
//     the Unlock (one more etcd write) follows in the background, after the caller has its
//     answer, so it weighs on throughput but not on the caller's latency.
//
// The difference between the two is what the lock adds to a miss. LockFallback is
// FailClosed, so that a lock that failed is an error here rather than a quietly cheaper
// miss.
func BenchmarkColdLoad(b *testing.B) {
	ctx := context.Background()
	mc := memcachedtest.Start(b)
	etcd := etcdtest.Start(b)
	st := memcached.New([]string{mc.Addr}, memcached.Leases(0, 0))
	defer st.Close()
	var next atomic.Int64 // cold keys, never reused across the sub-benchmarks' runs
	next.Store(2_000_000)

	for _, locked := range []bool{false, true} {
		name := map[bool]string{false: "unlocked", true: "etcd-lock"}[locked]
		b.Run(name, func(b *testing.B) {
			opts := []cached.Option{cached.WithStore(st), cached.LockFallback(cached.FailClosed)}
			var l *lock.Etcd
			if locked {
				l = newEtcdLocker(b, etcd.Client(b))
				lockUnlock(b, l, "warm-up") // the session is granted before timing
				opts = append(opts, cached.WithLocker(l))
			}
			c := cached.New(opts...)
			defer c.Close() // before the Locker's Close (a cleanup): it waits for the unlocks
			var loads atomic.Int64
			get := cached.Wrap(c, "cold", func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				return want(id), nil
			})
			get(ctx, next.Add(1)) // the connections to memcached (and etcd)
			loads.Store(0)
			var n int64
			b.ReportAllocs()
			for b.Loop() {
				if _, err := get(ctx, next.Add(1)); err != nil {
					b.Fatal(err)
				}
				n++
			}
			if loads.Load() != n {
				b.Fatalf("%d loads for %d cold keys", loads.Load(), n)
			}
			if l != nil {
				c.Close() // the unlocks spawned in the background are done
				if s := l.Stats(); s.Acquired < uint64(n) || s.Contended != 0 {
					b.Fatalf("Locker stats %+v after %d cold keys", s, n)
				}
			}
		})
	}
}

// BenchmarkLockStorm is BenchmarkMemcachedStorm with a Locker: each iteration, 4 instances
// × 50 goroutines get one new cold key at once, and the loader blocks until all 200 have
// called (counted as they enter, before get: a caller waiting for another instance's lock
// has called, so the storm cannot deadlock). Each instance has its own memcached Store and,
// with a Locker, its own lock.Etcd on its own etcd client, as 4 processes would; they
// share one memcached and one etcd server.
//   - etcd-lock: leases off, lock.Etcd: one instance loads while the others wait for its
//     lock, then find the value in memcached (1 load a storm). lockwaits/op counts the Lock
//     calls that waited for another holder: at most 3 a storm (an instance whose first
//     Store read comes after the value was stored does not lock);
//   - memcached-leases: leases on, no Locker: memcached's leases elect the loader;
//   - singleflight-only: leases off, no Locker: each instance coalesces its own callers and
//     loads once (4 loads a storm).
//
// loads/op counts the loader's calls per storm.
func BenchmarkLockStorm(b *testing.B) {
	mc := memcachedtest.Start(b)
	etcd := etcdtest.Start(b)
	var next atomic.Int64 // cold keys, never reused across the sub-benchmarks' runs
	next.Store(3_000_000)

	for _, mode := range []string{"etcd-lock", "memcached-leases", "singleflight-only"} {
		b.Run(mode, func(b *testing.B) {
			var loads atomic.Int64
			var release atomic.Pointer[chan struct{}]
			load := func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				<-*release.Load()
				return want(id), nil
			}
			var gets []getFunc
			var lockers []*lock.Etcd
			for range 4 {
				var stOpts []memcached.Option
				if mode != "memcached-leases" {
					stOpts = append(stOpts, memcached.Leases(0, 0))
				}
				st := memcached.New([]string{mc.Addr}, stOpts...)
				opts := []cached.Option{cached.WithStore(st)}
				if mode == "etcd-lock" {
					l := newEtcdLocker(b, etcd.Client(b))
					lockUnlock(b, l, "warm-up") // the session is granted before timing
					lockers = append(lockers, l)
					opts = append(opts, cached.WithLocker(l), cached.LockFallback(cached.FailClosed))
				}
				c := cached.New(opts...)
				// Deferred: before the Lockers' Close and the clients' (cleanups).
				defer func() { c.Close(); st.Close() }()
				gets = append(gets, cached.Wrap(c, "storm", load))
			}
			const perInstance = 50
			b.ReportAllocs()
			for b.Loop() {
				storm(b, gets, perInstance, next.Add(1), &release)
			}
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
			if lockers != nil {
				var waits, timeouts uint64
				for _, l := range lockers {
					s := l.Stats()
					waits += s.Contended
					timeouts += s.Timeouts
				}
				b.ReportMetric(float64(waits)/float64(b.N), "lockwaits/op")
				if timeouts != 0 {
					b.Errorf("%d Lock calls timed out", timeouts)
				}
			}
		})
	}
}

package lock_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func newLocker(t *testing.T, cli *clientv3.Client, opts ...lock.Option) *lock.Etcd {
	t.Helper()
	l, err := lock.NewEtcd(cli, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func timeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// heldPair starts etcd and two Lockers on their own clients, a and b; a holds "k".
func heldPair(t *testing.T) (srv *etcdtest.Server, a, b *lock.Etcd, u cached.Unlocker) {
	t.Helper()
	srv = etcdtest.Start(t)
	a = newLocker(t, srv.Client(t))
	b = newLocker(t, srv.Client(t))
	u, err := a.Lock(timeout(t, 5*time.Second), "k")
	if err != nil {
		t.Fatal(err)
	}
	return srv, a, b, u
}

// revokeAll expires every lease etcd has, as if the sessions' holders had stalled past
// their TTL.
func revokeAll(t *testing.T, cli *clientv3.Client) {
	t.Helper()
	ctx := timeout(t, 5*time.Second)
	resp, err := cli.Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ls := range resp.Leases {
		if _, err := cli.Revoke(ctx, ls.ID); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLostSessionReportedAndReplaced: a lock whose session's lease expired is reported lost
// at Unlock (not assumed held), and the next Lock runs on a new session.
func TestLostSessionReportedAndReplaced(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	l := newLocker(t, cli)
	u, err := l.Lock(timeout(t, 5*time.Second), "k")
	if err != nil {
		t.Fatal(err)
	}
	revokeAll(t, cli)
	if err := u.Unlock(timeout(t, 5*time.Second)); !errors.Is(err, lock.ErrLost) {
		t.Errorf("Unlock after the lease expired = %v; want ErrLost", err)
	}
	u2, err := l.Lock(timeout(t, 5*time.Second), "k")
	if err != nil {
		t.Fatalf("Lock after a lost session: %v", err)
	}
	if u2.Fence() <= u.Fence() {
		t.Errorf("fence after the lost lock = %d; want more than %d", u2.Fence(), u.Fence())
	}
	if err := u2.Unlock(timeout(t, 5*time.Second)); err != nil {
		t.Errorf("Unlock on the new session: %v", err)
	}
	st := l.Stats()
	if st.Sessions != 2 || st.Lost != 1 {
		t.Errorf("Sessions, Lost = %d, %d; want 2, 1", st.Sessions, st.Lost)
	}
}

// TestDoubleUnlock: the second Unlock of a lock says so.
func TestDoubleUnlock(t *testing.T) {
	srv := etcdtest.Start(t)
	l := newLocker(t, srv.Client(t))
	u, err := l.Lock(timeout(t, 5*time.Second), "k")
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Unlock(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := u.Unlock(timeout(t, 5*time.Second)); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("second Unlock = %v; want ErrNotHeld", err)
	}
}

// TestCancelledWaiterLeavesQueue: a waiter whose context ends returns its error and leaves
// no key behind, in etcd or in process: the next Lock after the holder's Unlock does not
// wait for it.
func TestCancelledWaiterLeavesQueue(t *testing.T) {
	_, a, b, u := heldPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := b.Lock(ctx, "k")
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: err = %v; want context.Canceled", err)
	}
	if err := u.Unlock(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, l := range []*lock.Etcd{b, a} {
		u, err := l.Lock(timeout(t, 5*time.Second), "k")
		if err != nil {
			t.Fatalf("Lock after the waiter left: %v", err)
		}
		if err := u.Unlock(timeout(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestEtcdDown: with etcd stopped mid-run, no call waits past its LockTimeout, none fails
// (the Load fallback), the breaker keeps most misses from paying the timeout at all, and
// locking resumes once etcd is back.
func TestEtcdDown(t *testing.T) {
	srv := etcdtest.Start(t)
	l := newLocker(t, srv.Client(t), lock.TTL(2*time.Second), lock.Breaker(3, 500*time.Millisecond))
	const lockTimeout = 300 * time.Millisecond
	c := cached.New(cached.WithLocker(l), cached.LockTimeout(lockTimeout),
		cached.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(func() { c.Close() })
	var key atomic.Int64
	get := cached.Wrap(c, "f", func(_ context.Context, k int64) (int64, error) { return k, nil })

	// call runs n misses on 4 goroutines and returns how many took at least the
	// LockTimeout (paid it) and the longest.
	call := func(n int) (paid int, longest time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				for range n / 4 {
					k := key.Add(1)
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					start := time.Now()
					v, err := get(ctx, k)
					d := time.Since(start)
					cancel()
					if err != nil || v != k {
						t.Errorf("get(%d) = %d, %v; want %d under the Load fallback", k, v, err, k)
					}
					mu.Lock()
					if d >= lockTimeout {
						paid++
					}
					longest = max(longest, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return paid, longest
	}

	call(40)
	if st := l.Stats(); st.Acquired != 40 || st.Errors != 0 {
		t.Fatalf("etcd up: Acquired, Errors = %d, %d; want 40, 0", st.Acquired, st.Errors)
	}
	srv.Stop()
	paid, longest := call(200)
	st := l.Stats()
	t.Logf("etcd down: 200 misses, %d paid the %v LockTimeout (longest %v); lock stats %+v", paid, lockTimeout, longest, st)
	if longest > lockTimeout+time.Second {
		t.Errorf("a miss took %v with etcd down; want at most the LockTimeout, %v, and slack", longest, lockTimeout)
	}
	if st.Rejected == 0 || st.Trips == 0 {
		t.Errorf("Rejected, Trips = %d, %d; want the breaker to have opened", st.Rejected, st.Trips)
	}
	if paid > 100 {
		t.Errorf("%d of 200 misses paid the LockTimeout; want the breaker to spare most", paid)
	}
	if got := c.Stats().Funcs["f"].LockErrors; got == 0 {
		t.Error("lock failures not counted by the engine")
	}

	srv.Restart(t)
	deadline := time.Now().Add(30 * time.Second)
	for before := l.Stats().Acquired; l.Stats().Acquired == before; {
		if time.Now().After(deadline) {
			t.Fatalf("locking did not resume within 30s of etcd's return: %+v", l.Stats())
		}
		call(4) // misses after the breaker's cooldown probe etcd again
	}
	t.Logf("after restart: %+v", l.Stats())
}

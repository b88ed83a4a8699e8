package lock_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/lock"
	"github.com/cachedgo/cached/locktest"
)

// TestConformance holds lock.Etcd to the cached.Locker contract: each subtest of the suite
// gets two Lockers on two clients of one etcd, as two processes of a fleet have.
func TestConformance(t *testing.T) {
	srv := etcdtest.Start(t)
	locktest.Run(t, func(t *testing.T) (a, b cached.Locker) {
		return conformanceLocker(t, srv), conformanceLocker(t, srv)
	}, locktest.RequireFence())
}

// conformanceLocker returns a Locker on a client of its own, both closed when t ends: the
// Locker first (cleanups run last-registered first), as its Close revokes its lease.
func conformanceLocker(t *testing.T, srv *etcdtest.Server) *lock.Etcd {
	t.Helper()
	cli := srv.Client(t)
	l, err := lock.NewEtcd(cli)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return l
}

// TestReacquiredKeyDoesNotStrandWaiter reproduces a lost wake-up that the suite's
// Concurrent subtest found. A process's key under a mutex is named by its session's lease,
// so when one of its callers unlocks and the next one (queued in process) locks, the same
// key name is deleted and created again, with a newer create revision. When that happens
// between a waiter's read of the key before its own and the start of its watch, waitDelete
// sees the key present (WithCountOnly does not tell the new key from the old) and waits
// for a deletion that never comes: the new key is queued behind the waiter, which it
// waits for in turn. Both wait until their contexts end. Checking that the key still has
// the create revision the waiter read (and returning to look again if not) closes the gap.
//
// The interleaving is a race, so the test makes many hand-overs: two callers on one
// Locker and one on another, each locking and unlocking the key in turn. A hand-over
// takes milliseconds; a Lock that runs out its 3s deadline is the lost wake-up.
func TestReacquiredKeyDoesNotStrandWaiter(t *testing.T) {
	srv := etcdtest.Start(t)
	a, b := conformanceLocker(t, srv), conformanceLocker(t, srv)
	key := fmt.Sprint("reacquired-", time.Now().UnixNano())
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	errs := make(chan error, 3)
	var wg sync.WaitGroup
	for i, l := range []*lock.Etcd{a, a, b} {
		wg.Go(func() {
			for n := range 100 {
				lctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				u, err := l.Lock(lctx, key)
				cancel()
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("caller %d, Lock %d: %v", i, n, err)
						stop()
					}
					return
				}
				if err := u.Unlock(context.Background()); err != nil {
					errs <- fmt.Errorf("caller %d, Unlock %d: %v", i, n, err)
					stop()
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("%v; want every Lock to get the key once its holders were done", err)
	}
}

package lock_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestTimedOutAcquireLeavesNoKey (from a review): a Lock whose context ends while its acquiring
// transaction is on its way gets an error, but etcd may have applied the put. The key is
// then queued under the Locker's session, which is kept alive for as long as the process
// runs, and nobody deletes it: every other process waits behind it (until its LockTimeout)
// for as long as this process lives, unless this process happens to lock the same key
// again. The test makes Locks with deadlines of a fraction of a round trip until some fail
// this way, then checks that no key is left under the prefix and that another Locker can
// take such a key.
func TestTimedOutAcquireLeavesNoKey(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	const prefix = "/review-strand/"
	a := newLocker(t, cli, lock.Prefix(prefix))
	b := newLocker(t, srv.Client(t), lock.Prefix(prefix))
	u, err := a.Lock(timeout(t, 5*time.Second), "warm") // the session exists: Lock goes straight to the txn
	if err != nil {
		t.Fatal(err)
	}
	if err := u.Unlock(timeout(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	failed := 0
	for i := range 400 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+i%40)*100*time.Microsecond)
		u, err := a.Lock(ctx, fmt.Sprint("k", i))
		cancel()
		if err != nil {
			failed++
			continue
		}
		if err := u.Unlock(timeout(t, 5*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// The clean-ups run in the background, the last pass a second after a request's
	// deadline: poll etcd (there is no event to wait on) for a while.
	var resp *clientv3.GetResponse
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err = cli.Get(timeout(t, 5*time.Second), prefix, clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Kvs) == 0 {
			t.Logf("%d Locks failed; no key left behind", failed)
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("%d Locks failed, no lock is held, and %d keys are left in etcd (first %s); want none",
		failed, len(resp.Kvs), resp.Kvs[0].Key)
	stranded := strings.TrimPrefix(string(resp.Kvs[0].Key), prefix)
	stranded = stranded[:strings.IndexByte(stranded, '/')]
	if _, err := b.Lock(timeout(t, time.Second), stranded); err != nil {
		t.Errorf("another Locker's Lock(%q) with no holder = %v; want the lock", stranded, err)
	}
}

// TestNoCleanupAfterClose (from a review): Close waits for the goroutines the package started, and
// a caller closes the etcd client after Close. A waiter whose context ends after Close
// returned still starts a clean-up goroutine (wg.Add after Close's wg.Wait), which then
// runs against a client the caller may have closed, unowned.
func TestNoCleanupAfterClose(t *testing.T) {
	srv, _, b, u := heldPair(t)
	defer u.Unlock(timeout(t, 5*time.Second))
	done := make(chan error)
	go func() {
		_, err := b.Lock(timeout(t, 1500*time.Millisecond), "k")
		done <- err
	}()
	queued(t, srv, "/cached/locks/k/", 2) // b's key is queued behind a's
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	srv.Stop() // etcd stops answering: a clean-up would now run for its full bound (2s)
	if err := <-done; err == nil {
		t.Fatal("waiter got the lock")
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "(*Etcd).cleanup") {
		t.Errorf("a clean-up goroutine of the Locker runs after its Close returned; want none")
	}
}

// TestCancelledUnlockKeepsOtherLocks: Unlock with a context that is already done is
// a caller's choice, not etcd failing to answer; yet remove abandons the whole session, so
// every other lock this Locker holds is lost once the lease runs out (here 1s), while its
// holders go on believing they hold it.
func TestCancelledUnlockKeepsOtherLocks(t *testing.T) {
	srv := etcdtest.Start(t)
	a := newLocker(t, srv.Client(t), lock.TTL(time.Second))
	b := newLocker(t, srv.Client(t))
	ua, err := a.Lock(timeout(t, 5*time.Second), "a")
	if err != nil {
		t.Fatal(err)
	}
	ub, err := a.Lock(timeout(t, 5*time.Second), "b")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ua.Unlock(cancelled); err == nil {
		t.Log("Unlock with a cancelled context succeeded")
	}
	// "b" is still held by a: another Locker must not get it.
	if u, err := b.Lock(timeout(t, 3*time.Second), "b"); err == nil {
		t.Errorf("another Locker took \"b\" while a still holds it (a's session was abandoned by an unrelated Unlock with a cancelled context)")
		u.Unlock(timeout(t, 5*time.Second))
	}
	if err := ub.Unlock(timeout(t, 5*time.Second)); err != nil {
		t.Errorf("Unlock of \"b\" = %v; want nil: only \"a\"'s Unlock had a cancelled context", err)
	}
	// "a" itself must still be freed (not left queued under a live session).
	u, err := b.Lock(timeout(t, 3*time.Second), "a")
	if err != nil {
		t.Errorf("Lock of \"a\" after its holder's Unlock = %v; want the lock", err)
		return
	}
	u.Unlock(timeout(t, 5*time.Second))
}

// TestContendedCountsAcquiredOnly: Stats.Contended is documented as "of those
// [Acquired], locks another holder had", but a Lock that waited and gave up counts too.
func TestContendedCountsAcquiredOnly(t *testing.T) {
	_, _, b, u := heldPair(t)
	defer u.Unlock(timeout(t, 5*time.Second))
	if _, err := b.Lock(timeout(t, 300*time.Millisecond), "k"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held key = %v; want DeadlineExceeded", err)
	}
	if st := b.Stats(); st.Contended > st.Acquired {
		t.Errorf("Stats: Contended %d > Acquired %d; want Contended among Acquired as documented", st.Contended, st.Acquired)
	}
}

// queued waits until n keys are queued under the mutex prefix pfx, by watching it.
func queued(t *testing.T, srv *etcdtest.Server, pfx string, n int) {
	t.Helper()
	cli := srv.Client(t)
	ctx := timeout(t, 10*time.Second)
	wch := cli.Watch(ctx, pfx, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
	<-wch // the watch is in place: a put from now on is seen
	for {
		resp, err := cli.Get(ctx, pfx, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		if resp.Count >= int64(n) {
			return
		}
		if _, ok := <-wch; !ok {
			t.Fatalf("%d keys never queued under %s", n, pfx)
		}
	}
}

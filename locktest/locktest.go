// Package locktest checks that a [cached.Locker] keeps the contract documented on that
// interface, so that every implementation (the etcd Locker of package lock, a user's own)
// is held to the same rules. Call [Run] from a test of the implementation with two
// lockers that share one medium, as two processes of a fleet would, against a real server
// where there is one:
//
//	func TestConformance(t *testing.T) {
//		srv := startServer(t)
//		locktest.Run(t, func(t *testing.T) (a, b cached.Locker) {
//			return mylock.New(srv.Client(t)), mylock.New(srv.Client(t))
//		}, locktest.RequireFence())
//	}
//
// The suite checks exclusion (also between goroutines of both lockers, which -race
// watches), fencing tokens, the independence of distinct keys, the honouring of the
// caller's context, a second Unlock and the wake-up of waiters. It injects no failure
// into the medium. It never sleeps to order events: it waits on channels, and asserts
// "must fail" or "must still be waiting" with deadlines (300ms). A Lock that must
// succeed has [LockWait] (10 seconds); one that must fail has its deadline plus 5 seconds
// to return, and one whose context has ended, 2 seconds.
package locktest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

const (
	// refused is the deadline of a Lock that must fail because another holder keeps the
	// key, and how long a waiter must stay blocked before the suite frees the key.
	refused = 300 * time.Millisecond
	// slack is how long past its deadline a refused Lock may take to return.
	slack = 5 * time.Second
	// prompt bounds a Lock whose context had ended before the call or ends while it waits:
	// it returns at once but for a round trip to the medium (generous for a slow CI host).
	prompt = 2 * time.Second
	// defaultWait is the default of [LockWait].
	defaultWait = 10 * time.Second
)

// Option adjusts what [Run] checks.
type Option func(*config)

type config struct {
	requireFence bool
	wait         time.Duration // a Lock that must succeed, an Unlock
}

// RequireFence declares that the Locker gives fencing tokens: [Run] then fails a lock
// whose Fence is 0. Without it, a Locker may report 0 (no token), but then always.
// Either way, nonzero fences of one key must grow with every acquisition.
func RequireFence() Option { return func(c *config) { c.requireFence = true } }

// LockWait bounds a Lock that must succeed (its key is free, or is being freed) and an
// Unlock. A Locker on a slow server may need longer; a shorter one makes a Locker that
// keeps a key it should free fail sooner. Default: 10 seconds.
func LockWait(d time.Duration) Option { return func(c *config) { c.wait = d } }

// Run runs the conformance suite as subtests of t. newPair returns two lockers that share
// one medium (two processes' lockers on one server, say), so that what a holds excludes
// b. It is called once per subtest, and keys are unique per subtest (they start with the
// subtest's name and a timestamp), so it may return lockers that earlier subtests used.
// Each locker is used through the [cached.Locker] interface only; closing them is
// newPair's business (t.Cleanup).
//
// A failing subtest may leave a key locked; no other subtest uses it.
func Run(t *testing.T, newPair func(t *testing.T) (a, b cached.Locker), opts ...Option) {
	cfg := config{wait: defaultWait}
	for _, o := range opts {
		o(&cfg)
	}
	run := func(name string, fn func(t *testing.T, s *suite)) {
		t.Run(name, func(t *testing.T) {
			s := &suite{config: cfg}
			s.a, s.b = newPair(t)
			// No "/" in the prefix: an implementation that maps plain keys and others
			// differently (package lock hashes keys with "/") sees both kinds.
			prefix := fmt.Sprintf("locktest.%s.%d.", name, time.Now().UnixNano())
			s.key = func(k string) string { return prefix + k }
			fn(t, s)
		})
	}
	run("Exclusion", testExclusion)
	run("Concurrent", testConcurrent)
	run("Fences", testFences)
	run("IndependentKeys", testIndependentKeys)
	run("Context", testContext)
	run("DoubleUnlock", testDoubleUnlock)
	run("WakeUp", testWakeUp)
}

// suite is what a subtest works with: the pair of lockers, its keys and the options.
type suite struct {
	config
	a, b cached.Locker
	key  func(string) string // a key unique to the subtest
}

// result is what a Lock call returned, and when.
type result struct {
	u    cached.Unlocker
	err  error
	took time.Duration
}

// lockAsync calls l.Lock(ctx, key) in a goroutine. The channel is buffered, so that a
// call the suite stops waiting for (a Locker that ignores ctx) ends once Lock returns.
func lockAsync(ctx context.Context, l cached.Locker, key string) <-chan result {
	ch := make(chan result, 1)
	start := time.Now()
	go func() {
		u, err := l.Lock(ctx, key)
		ch <- result{u: u, err: err, took: time.Since(start)}
	}()
	return ch
}

// lock takes key on l (named who in messages) within its wait (LockWait), or fails t.
func (s *suite) lock(t *testing.T, l cached.Locker, key, who string) cached.Unlocker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.wait)
	defer cancel()
	select {
	case r := <-lockAsync(ctx, l, key):
		if r.err != nil {
			t.Fatalf("%s.Lock(%s): %v after %v; want the lock", who, show(key), r.err, r.took)
		}
		if r.u == nil {
			t.Fatalf("%s.Lock(%s) = nil, nil; want an Unlocker", who, show(key))
		}
		return r.u
	case <-time.After(s.wait + slack):
		t.Fatalf("%s.Lock(%s) did not return within %v of its %v deadline", who, show(key), slack, s.wait)
	}
	return nil
}

// refuse checks that l.Lock(key) fails while holder keeps key: it must return an error by
// its deadline (refused), give or take slack.
func refuse(t *testing.T, l cached.Locker, key, who, holder string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), refused)
	defer cancel()
	checkRefused(t, lockAsync(ctx, l, key), key, who, holder)
}

func checkRefused(t *testing.T, ch <-chan result, key, who, holder string) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err == nil {
			release(r.u)
			t.Fatalf("%s.Lock(%s) succeeded while %s held it; want an error by its %v deadline",
				who, show(key), holder, refused)
		}
	case <-time.After(refused + slack):
		t.Fatalf("%s.Lock(%s) with a %v deadline, while %s held it, did not return within %v",
			who, show(key), refused, holder, refused+slack)
	}
}

// unlock releases u within its wait (LockWait), failing t if Unlock reports an error.
func (s *suite) unlock(t *testing.T, u cached.Unlocker, who string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.wait)
	defer cancel()
	if err := u.Unlock(ctx); err != nil {
		t.Errorf("%s: Unlock: %v; want nil", who, err)
	}
}

// release unlocks a lock the suite should not have been given, ignoring the outcome.
func release(u cached.Unlocker) {
	if u == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), prompt)
	defer cancel()
	u.Unlock(ctx)
}

// show quotes key for a message, shortening long ones.
func show(key string) string {
	if len(key) <= 80 {
		return fmt.Sprintf("%q", key)
	}
	return fmt.Sprintf("%q…%q (%d bytes)", key[:40], key[len(key)-20:], len(key))
}

package locktest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// testContext: a Lock whose context has ended fails at once, and ended calls do not make
// later ones fail; a waiter whose context is cancelled returns ctx's error promptly and
// leaves the queue.
func testContext(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	k := key("k")
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	// A caller's ended context says nothing about the medium: many such calls (more than
	// a circuit breaker's usual threshold) do not make later calls with live ones fail.
	for i := range 32 {
		l, who := a, "a"
		if i%2 == 1 {
			l, who = b, "b"
		}
		ctx, how := cancelled, "a cancelled"
		if i%4 >= 2 {
			ctx, how = expired, "an expired"
		}
		endedFails(t, l, ctx, k, fmt.Sprintf("%s.Lock with %s context on a free key", who, how))
	}
	s.unlock(t, s.lock(t, b, k, "b (after Locks with ended contexts)"), "b")
	u := s.lock(t, a, k, "a (after Locks with ended contexts)")
	endedFails(t, b, cancelled, k, "b.Lock with a cancelled context on a key a holds")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	waiter := lockAsync(ctx, b, k)
	select {
	case r := <-waiter:
		release(r.u)
		t.Fatalf("b.Lock returned (%v) while a held the key and b's context was live; want it to wait", r.err)
	case <-time.After(refused): // b is waiting
	}
	cancel()
	cancelledAt := time.Now()
	select {
	case r := <-waiter:
		if r.err == nil {
			release(r.u)
			t.Fatalf("b.Lock, cancelled while a held the key, returned the lock; want %v", context.Canceled)
		}
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("b.Lock, cancelled while waiting: %v; want an error that is %v", r.err, context.Canceled)
		}
		if d := time.Since(cancelledAt); d > prompt {
			t.Errorf("b.Lock returned %v after its context was cancelled; want within %v", d, prompt)
		}
	case <-time.After(prompt):
		t.Fatalf("b.Lock did not return within %v of its context's cancellation", prompt)
	}
	s.unlock(t, u, "a")
	// The cancelled waiter left the queue: both lockers get the key.
	s.unlock(t, s.lock(t, b, k, "b (after its cancelled wait)"), "b")
	s.unlock(t, s.lock(t, a, k, "a (after b's cancelled wait)"), "a")
}

// endedFails checks that l.Lock(ctx, key), with ctx already ended, fails within prompt.
func endedFails(t *testing.T, l cached.Locker, ctx context.Context, key, what string) {
	t.Helper()
	select {
	case r := <-lockAsync(ctx, l, key):
		if r.err == nil {
			release(r.u)
			t.Fatalf("%s returned the lock; want an error", what)
		}
		if r.took > prompt {
			t.Errorf("%s took %v to fail; want within %v", what, r.took, prompt)
		}
	case <-time.After(prompt):
		t.Fatalf("%s did not return within %v", what, prompt)
	}
}

// testWakeUp: waiters on both lockers, blocked while a holds the key, acquire it one at a
// time once it is unlocked, with growing fences.
func testWakeUp(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	k := key("k")
	u := s.lock(t, a, k, "a")
	fence := u.Fence()
	ctx, cancel := context.WithTimeout(context.Background(), s.wait)
	defer cancel()
	onA, onB := lockAsync(ctx, a, k), lockAsync(ctx, b, k)
	select {
	case r := <-onA:
		release(r.u)
		t.Fatalf("the waiter on a returned (%v) while a's first caller held the key; want it to wait", r.err)
	case r := <-onB:
		release(r.u)
		t.Fatalf("the waiter on b returned (%v) while a held the key; want it to wait", r.err)
	case <-time.After(refused): // both are waiting
	}
	s.unlock(t, u, "a (the first holder)")
	var first result
	var who, other string
	var rest <-chan result
	select {
	case first = <-onA:
		who, other, rest = "a", "b", onB
	case first = <-onB:
		who, other, rest = "b", "a", onA
	case <-time.After(s.wait + slack):
		t.Fatalf("neither waiter returned within %v of the key's unlock", s.wait+slack)
	}
	fence = woken(t, first, who, fence)
	select {
	case r := <-rest:
		release(r.u)
		t.Fatalf("the waiter on %s returned (%v) while the waiter on %s held the key; want it to wait",
			other, r.err, who)
	case <-time.After(refused):
	}
	s.unlock(t, first.u, "the waiter on "+who)
	select {
	case r := <-rest:
		woken(t, r, other, fence)
		s.unlock(t, r.u, "the waiter on "+other)
	case <-time.After(s.wait + slack):
		t.Fatalf("the waiter on %s did not return within %v of the key's unlock by %s", other, s.wait+slack, who)
	}
}

// woken checks that a waiter got the lock, with a fence above the previous holder's, and
// returns its fence.
func woken(t *testing.T, r result, who string, prev uint64) uint64 {
	t.Helper()
	if r.err != nil {
		t.Fatalf("the waiter on %s: %v; want the lock once it was unlocked", who, r.err)
	}
	f := r.u.Fence()
	if prev != 0 && f <= prev {
		t.Errorf("the waiter on %s has fence %d after the previous holder's %d; want it greater", who, f, prev)
	}
	return f
}

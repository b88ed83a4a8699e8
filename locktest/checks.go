package locktest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// testExclusion: while a holds a key, neither b nor a second caller of a gets it; once a
// unlocks, b does.
func testExclusion(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	k := key("k")
	u := s.lock(t, a, k, "a")
	ctx, cancel := context.WithTimeout(context.Background(), refused)
	defer cancel()
	onB, onA := lockAsync(ctx, b, k), lockAsync(ctx, a, k) // deadlines run together
	checkRefused(t, onB, k, "b", "a")
	checkRefused(t, onA, k, "a (a second caller)", "a")
	s.unlock(t, u, "a")
	s.unlock(t, s.lock(t, b, k, "b"), "b")
}

// testConcurrent: goroutines of both lockers take one key in turn, and no two critical
// sections overlap. The atomic inside counter orders the sections for the race detector
// when the lock excludes, so -race reports the plain counter only when it does not.
func testConcurrent(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	const goroutines, rounds, iterations = 8, 4, 5
	k := key("k")
	var inside, overlaps atomic.Int64
	counter := 0 // guarded by the lock under test
	errs := make(chan error, goroutines*rounds*iterations)
	for range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range goroutines {
			l, who := a, "a"
			if g%2 == 1 {
				l, who = b, "b"
			}
			wg.Go(func() {
				<-start
				for range iterations {
					ctx, cancel := context.WithTimeout(context.Background(), s.wait)
					u, err := l.Lock(ctx, k)
					cancel() // ctx bounds the wait only, not the life of the lock
					if err != nil {
						errs <- fmt.Errorf("%s.Lock: %v", who, err)
						return
					}
					if inside.Add(1) > 1 {
						overlaps.Add(1)
					}
					c := counter
					runtime.Gosched() // let an overlapping holder in, if the lock lets it
					counter = c + 1
					inside.Add(-1)
					ctx, cancel = context.WithTimeout(context.Background(), s.wait)
					err = u.Unlock(ctx)
					cancel()
					if err != nil {
						errs <- fmt.Errorf("%s: Unlock: %v", who, err)
					}
				}
			})
		}
		close(start)
		wg.Wait()
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	const total = goroutines * rounds * iterations
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d of %d critical sections began while another was running; want none", n, total)
	}
	if !t.Failed() && counter != total {
		t.Errorf("counter = %d after %d locked increments; want %d", counter, total, total)
	}
}

// testFences: successive acquisitions of one key, alternating between a and b, have
// strictly increasing fences, or all report 0.
func testFences(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	k := key("k")
	var fences []uint64
	for i := range 6 {
		l, who := a, "a"
		if i%2 == 1 {
			l, who = b, "b"
		}
		u := s.lock(t, l, k, who)
		f := u.Fence()
		if again := u.Fence(); again != f {
			t.Errorf("%s: Fence() = %d, then %d while held; want one value", who, f, again)
		}
		s.unlock(t, u, who)
		fences = append(fences, f)
	}
	if s.requireFence && fences[0] == 0 {
		t.Fatalf("fences %v; want nonzero (RequireFence)", fences)
	}
	for i := 1; i < len(fences); i++ {
		prev, f := fences[i-1], fences[i]
		if (prev == 0) != (f == 0) || (f != 0 && f <= prev) {
			t.Fatalf("fences of successive acquisitions %v; want all 0 or strictly increasing", fences)
		}
	}
}

// testIndependentKeys: distinct keys never share a lock, whatever their form: prefixes
// of each other, with "/", long ones differing only near their end.
func testIndependentKeys(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	u := s.lock(t, a, key("k1"), "a")
	s.unlock(t, s.lock(t, b, key("k2"), "b"), "b (while a held k1)")
	s.unlock(t, u, "a")

	long, mid := strings.Repeat("k", 1000), strings.Repeat("k", 600)
	forms := []string{
		"a", "a/b", "a/", "a/b/c", "/", "", "ab", "A", "a:b", "a b", "ünï",
		long, long[:999] + "x", mid, mid[:599] + "x",
	}
	held := make([]cached.Unlocker, len(forms))
	for i, f := range forms {
		l, who := a, "a"
		if i%2 == 1 {
			l, who = b, "b"
		}
		held[i] = s.lock(t, l, key(f), who+" (holding the keys before it)")
	}
	// Each lock is real: the other locker is refused every key (all at once, so the
	// deadlines run together).
	ctx, cancel := context.WithTimeout(context.Background(), refused)
	defer cancel()
	tries := make([]<-chan result, len(forms))
	for i, f := range forms {
		l := b
		if i%2 == 1 {
			l = a
		}
		tries[i] = lockAsync(ctx, l, key(f))
	}
	for i, f := range forms {
		who, holder := "b", "a"
		if i%2 == 1 {
			who, holder = "a", "b"
		}
		checkRefused(t, tries[i], key(f), who, holder)
	}
	for i, u := range held {
		s.unlock(t, u, fmt.Sprintf("key %s", show(key(forms[i]))))
	}
}

// testDoubleUnlock: a second Unlock returns without panicking and does not release the
// lock of the next holder.
func testDoubleUnlock(t *testing.T, s *suite) {
	a, b, key := s.a, s.b, s.key
	k := key("k")
	u1 := s.lock(t, a, k, "a")
	s.unlock(t, u1, "a")
	u2 := s.lock(t, b, k, "b (after a unlocked)")
	p, err := unlockAgain(u1, s.wait)
	if p != nil {
		t.Errorf("a's second Unlock panicked: %v; want it to return", p)
	} else {
		t.Logf("a's second Unlock: %v", err)
	}
	refuse(t, a, k, "a", "b (a's second Unlock came after b took the key)")
	s.unlock(t, u2, "b")
	s.unlock(t, s.lock(t, a, k, "a (after b unlocked)"), "a")
}

func unlockAgain(u cached.Unlocker, wait time.Duration) (panicked any, err error) {
	defer func() { panicked = recover() }()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	return nil, u.Unlock(ctx)
}

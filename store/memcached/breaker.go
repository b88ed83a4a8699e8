package memcached

import (
	"sync"
	"time"
)

// breaker takes one server out of use while it keeps failing, so that callers do not each
// pay the timeout; it lets one probe through per cooldown to notice recovery.
type breaker struct {
	threshold int
	cooldown  time.Duration

	mu        sync.Mutex // protects the fields below
	failures  int        // consecutive
	openUntil time.Time  // zero when closed
	probing   bool       // a probe is out while half-open
}

// allow reports whether a call may go to the server now.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.openUntil.IsZero():
		return true
	case now.Before(b.openUntil) || b.probing:
		return false
	}
	b.probing = true // half-open: this call is the probe
	return true
}

// success records a call the server answered.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.openUntil, b.probing = 0, time.Time{}, false
}

// failure records a call the server did not answer and reports whether it opened the
// breaker.
func (b *breaker) failure(now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.probing || (b.openUntil.IsZero() && b.failures >= b.threshold) {
		b.probing = false
		b.openUntil = now.Add(b.cooldown)
		return true
	}
	return false
}

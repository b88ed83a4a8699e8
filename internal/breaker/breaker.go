// Package breaker is the circuit breaker the integrations share: it takes a backend out of
// use while it keeps failing, so that callers do not each pay its timeout, and lets one
// probe through per cooldown to notice recovery.
package breaker

import (
	"sync"
	"time"
)

// Breaker is a consecutive-failure circuit breaker. Its zero value is not usable: set
// Threshold and Cooldown. It is safe for concurrent use.
type Breaker struct {
	Threshold int           // consecutive failures that open it
	Cooldown  time.Duration // how long it stays open before it lets a probe through

	mu        sync.Mutex // protects the fields below
	failures  int        // consecutive
	openUntil time.Time  // zero when closed
	probing   bool       // a probe is out while half-open
}

// Allow reports whether a call may go to the backend now. A true answer while the breaker
// is half-open makes that call the probe: its Success or Failure decides the state.
func (b *Breaker) Allow(now time.Time) bool {
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

// Success records a call the backend answered; it closes the breaker.
func (b *Breaker) Success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.openUntil, b.probing = 0, time.Time{}, false
}

// Failure records a call the backend did not answer and reports whether it opened the
// breaker.
func (b *Breaker) Failure(now time.Time) (opened bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	if b.probing || (b.openUntil.IsZero() && b.failures >= b.Threshold) {
		b.probing = false
		b.openUntil = now.Add(b.Cooldown)
		return true
	}
	return false
}

// Abandon gives back a probe whose call was neither answered nor failed by the backend
// (its caller's context ended first, say), so that the next call may probe.
func (b *Breaker) Abandon() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// Open reports whether the breaker refuses calls now.
func (b *Breaker) Open(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.openUntil.IsZero() && (now.Before(b.openUntil) || b.probing)
}

package jitter

import (
	"math"
	"math/rand/v2"
	"sync"
)

// source draws random numbers from r, or from math/rand/v2's top-level
// functions when r is nil.
type source struct {
	// mu protects r. It is held while r's Source runs, which may be user
	// code; serializing that code is the point of the lock.
	mu sync.Mutex
	r  *rand.Rand
}

func newSource(opts []Option) *source {
	var c config
	for _, opt := range opts {
		opt(&c)
	}
	return &source{r: c.r}
}

// float64 returns a uniform float64 in [0, 1).
func (s *source) float64() float64 {
	if s.r == nil {
		return rand.Float64()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r.Float64()
}

// upTo returns a uniform int64 in [0, n], both ends included, for n >= 0.
// For n == math.MaxInt64, n+1 would overflow, but Int64 covers [0, n] as is.
func (s *source) upTo(n int64) int64 {
	switch {
	case n == 0:
		return 0
	case s.r == nil && n == math.MaxInt64:
		return rand.Int64()
	case s.r == nil:
		return rand.Int64N(n + 1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n == math.MaxInt64 {
		return s.r.Int64()
	}
	return s.r.Int64N(n + 1)
}

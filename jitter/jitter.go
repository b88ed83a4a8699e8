package jitter

import (
	"fmt"
	"math"
	"time"
)

// Func returns the TTL to use for one write, given the base ttl.
//
// The Funcs built by this package return ttl unchanged when ttl <= 0, never
// return a value <= 0 for a positive ttl, saturate at math.MaxInt64 instead
// of overflowing, and are safe for concurrent use. A hand-written Func passed
// where this package's are expected should keep the same promises.
type Func func(ttl time.Duration) time.Duration

// None returns a Func that returns ttl unchanged. It is the Func to use when
// jitter is off, so that callers never need a nil check. It is safe for
// concurrent use.
func None() Func {
	return func(ttl time.Duration) time.Duration { return ttl }
}

// minTTL is the floor [Percent] applies to a positive ttl, or ttl itself if
// smaller. Why not 1ns: a sub-millisecond TTL expires before anyone reads it,
// and stores with millisecond resolution (Redis PX) truncate it to 0, which
// they reject or read as "no expiry".
const minTTL = time.Millisecond

// twoTo63 is float64(math.MaxInt64), which rounds up to 2^63: any float at or
// above it does not fit in an int64.
const twoTo63 = float64(1 << 63)

// Percent returns a Func that scales ttl by a factor drawn uniformly from
// [1-p, 1+p]: Percent(0.1) turns 10m into a TTL between 9m and 11m. The mean
// stays ttl, so the average lifetime of an entry, and the hit rate, do not
// change.
//
// A positive ttl never comes back below min(ttl, 1ms), which matters only
// when ttl*(1-p) is that small (p near 1, or a tiny ttl); results that would
// exceed math.MaxInt64 come back as math.MaxInt64. A ttl <= 0 is returned
// unchanged. Percent(0) returns [None].
//
// Percent panics if p is NaN or outside [0, 1]; a p above 1 would make the
// factor negative. Random numbers come from math/rand/v2's top-level
// functions unless [WithRand] says otherwise. The Func is safe for concurrent
// use.
func Percent(p float64, opts ...Option) Func {
	if !(p >= 0 && p <= 1) { // written this way so that NaN fails too
		panic(fmt.Sprintf("jitter: Percent(%v): p must be in [0, 1]", p))
	}
	if p == 0 {
		return None()
	}
	src := newSource(opts)
	return func(ttl time.Duration) time.Duration {
		if ttl <= 0 {
			return ttl
		}
		f := float64(ttl) * (1 - p + 2*p*src.float64())
		if f >= twoTo63 {
			return math.MaxInt64
		}
		return max(time.Duration(math.Round(f)), min(ttl, minTTL))
	}
}

// Range returns a Func that adds to ttl a duration drawn uniformly from
// [min, max], both ends included: Range(0, 5*time.Minute) turns 1h into a TTL
// between 1h and 1h5m. Unlike [Percent], the spread does not grow with ttl,
// and jitter only ever lengthens a TTL.
//
// A ttl <= 0 is returned unchanged; results that would exceed math.MaxInt64
// come back as math.MaxInt64. Range(0, 0) returns [None]; Range(d, d) adds
// exactly d.
//
// Range panics if min < 0 or max < min. Random numbers come from
// math/rand/v2's top-level functions unless [WithRand] says otherwise. The
// Func is safe for concurrent use.
func Range(min, max time.Duration, opts ...Option) Func {
	if min < 0 || max < min {
		panic(fmt.Sprintf("jitter: Range(%v, %v): want 0 <= min <= max", min, max))
	}
	if max == 0 {
		return None()
	}
	src := newSource(opts)
	span := int64(max - min) // cannot overflow: 0 <= min <= max
	return func(ttl time.Duration) time.Duration {
		if ttl <= 0 {
			return ttl
		}
		d := min + time.Duration(src.upTo(span))
		if d > math.MaxInt64-ttl {
			return math.MaxInt64
		}
		return ttl + d
	}
}

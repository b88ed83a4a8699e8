package luapolicy

import (
	"errors"
	"math/bits"
	"sync/atomic"
	"time"
)

// Stats describes an Engine: its per-call runs, its reloads and its live version.
type Stats struct {
	Calls        uint64 // runs of per-call functions (one per Decide or TTL)
	Errors       uint64 // runs that failed, of any kind (timeouts and memory included)
	Timeouts     uint64 // runs that passed CallTimeout
	MemoryLimits uint64 // runs that passed MaxString or their Memory budget
	Recycled     uint64 // states closed because what they keep between calls passed the load Memory budget

	// Call time quantiles of successful and failed runs, to about 19% (buckets are powers
	// of 2^(1/4)).
	CallP50, CallP90, CallP99 time.Duration

	Reloads       uint64 // versions that went live, the first load included
	ReloadsFailed uint64 // versions rejected
	LastError     error  // why the last reload attempt was rejected, or nil if it went live

	Version  uint64 // the live version, from 1
	Checksum string // SHA-256 of the live version's source, hex
	Source   string // the live version's file path or "etcd:" key
	States   int    // Lua states open, in use or idle, across versions
}

const buckets = 4 * 40 // 2^(1/4) steps from 1ns to about 18 minutes

type counters struct {
	runs                             [stripes]stripe
	reloads, reloadsFailed, recycled atomic.Uint64
	hist                             [buckets]atomic.Uint64
	next                             atomic.Uint32 // the stripe of the next state
}

// stripes spreads the per-run counters so that states running on different cores do not
// share a cache line: each state counts on its own stripe.
const stripes = 16

type stripe struct {
	calls, errors, timeouts, memory atomic.Uint64
	_                               [32]byte // to 64 bytes
}

func bucketOf(ns int64) int {
	if ns < 1 {
		return 0
	}
	// Four buckets per power of two: the top bit's position and the next two bits.
	n := uint64(ns)
	b := bits.Len64(n) - 1
	frac := 0
	if b >= 2 {
		frac = int(n>>(b-2)) & 3
	}
	i := 4*b + frac
	if i >= buckets {
		i = buckets - 1
	}
	return i
}

// bucketTop is the upper bound of bucket i, in ns.
func bucketTop(i int) time.Duration {
	b, frac := i/4, i%4
	if b < 2 {
		return time.Duration(uint64(1)<<(b+1)) - 1
	}
	return time.Duration((uint64(4+frac+1) << (b - 2)) - 1)
}

// record counts one run on stripe i: took is its duration in ns, or -1 when it was not
// timed.
func (c *counters) record(i uint32, err error, took int64) {
	st := &c.runs[i%stripes]
	st.calls.Add(1)
	if took >= 0 {
		c.hist[bucketOf(took)].Add(1)
	}
	if err == nil {
		return
	}
	st.errors.Add(1)
	switch {
	case errors.Is(err, ErrTimeout):
		st.timeouts.Add(1)
	case errors.Is(err, ErrMemory):
		st.memory.Add(1)
	}
}

func (c *counters) quantiles(qs ...float64) []time.Duration {
	var h [buckets]uint64
	var n uint64
	for i := range h {
		h[i] = c.hist[i].Load()
		n += h[i]
	}
	out := make([]time.Duration, len(qs))
	if n == 0 {
		return out
	}
	for j, q := range qs {
		rank := uint64(q * float64(n))
		var seen uint64
		for i := range h {
			if seen += h[i]; seen > rank {
				out[j] = bucketTop(i)
				break
			}
		}
	}
	return out
}

// Stats returns the Engine's counters and live version.
func (e *Engine) Stats() Stats {
	c := &e.stats
	q := c.quantiles(0.5, 0.9, 0.99)
	s := Stats{
		Recycled: c.recycled.Load(),
		CallP50:  q[0], CallP90: q[1], CallP99: q[2],
		Reloads: c.reloads.Load(), ReloadsFailed: c.reloadsFailed.Load(),
		States: int(e.states.Load()),
	}
	for i := range c.runs {
		st := &c.runs[i]
		s.Calls += st.calls.Load()
		s.Errors += st.errors.Load()
		s.Timeouts += st.timeouts.Load()
		s.MemoryLimits += st.memory.Load()
	}
	e.errMu.Lock()
	s.LastError = e.lastErr
	e.errMu.Unlock()
	if v := e.live.Load(); v != nil {
		s.Version, s.Checksum, s.Source = v.seq, v.script.sum, v.script.name
	}
	return s
}

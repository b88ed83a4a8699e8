package bus

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is a snapshot of an [Etcd] bus's counters, from [Etcd.Stats]. The counters only
// grow. A broadcast that is broken shows here: Connected false, Behind growing,
// Reconnects, Resyncs and Gaps counting. It does not show in the lag, which is measured
// on delivered events only: while nothing arrives, the lag keeps its last values.
type Stats struct {
	Published     uint64 // messages this bus wrote (its internal sync events not included)
	PublishErrors uint64 // Publish calls that failed after validation (each makes the others resync once)
	Delivered     uint64 // events handed to the subscribers (this bus's own included)
	Resyncs       uint64 // TopicResync messages delivered: messages may have been lost
	Gaps          uint64 // resyncs caused by a publishing bus's lost message (a sequence gap or its LostAt)
	Reconnects    uint64 // watches established again after one was lost (a compaction's restart is not one)
	Malformed     uint64 // values under the prefix that could not be decoded (under an event key: resynced)
	Panics        uint64 // panics recovered: in subscriber calls, or bugs in the bus's own goroutines

	// Connected reports whether the watch is established now and etcd answered within
	// twice the Timeout.
	Connected bool
	// Behind is etcd's newest revision known to this bus minus the newest revision this
	// bus has fully processed (an event or a progress report); 0 when caught up or not
	// yet known.
	Behind int64
	// LastLag is the time from publish to delivery of the newest delivered event, by the
	// wall clocks of the publishing and the delivering host (so it includes their skew;
	// a negative lag is reported as 0).
	LastLag time.Duration
	// LagP50 and LagP99 are quantiles of the lag of the last 1,024 delivered events (0
	// before the first).
	LagP50, LagP99 time.Duration
}

// counters are the atomic counters behind Stats.
type counters struct {
	published, publishErrors, delivered, resyncs, gaps, reconnects, malformed, panics atomic.Uint64
	connected                                                                         atomic.Bool
	headRev, doneRev                                                                  atomic.Int64
}

// lagRing keeps the lags of the last delivered events.
type lagRing struct {
	mu   sync.Mutex // protects the fields below
	lags [1024]time.Duration
	n    int // how many of lags are filled
	next int // where the next lag goes
	last time.Duration
}

func (r *lagRing) add(d time.Duration) {
	d = max(d, 0)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lags[r.next] = d
	r.next = (r.next + 1) % len(r.lags)
	r.n = min(r.n+1, len(r.lags))
	r.last = d
}

// quantiles returns the last lag and the p50 and p99 of the kept ones.
func (r *lagRing) quantiles() (last, p50, p99 time.Duration) {
	r.mu.Lock()
	s := slices.Clone(r.lags[:r.n])
	last = r.last
	r.mu.Unlock()
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	return last, s[(len(s)-1)*50/100], s[(len(s)-1)*99/100]
}

// Stats returns a snapshot of the bus's counters. It is safe to call concurrently with
// everything else, after Close included.
func (b *Etcd) Stats() Stats {
	s := Stats{
		Published:     b.c.published.Load(),
		PublishErrors: b.c.publishErrors.Load(),
		Delivered:     b.c.delivered.Load(),
		Resyncs:       b.c.resyncs.Load(),
		Gaps:          b.c.gaps.Load(),
		Reconnects:    b.c.reconnects.Load(),
		Malformed:     b.c.malformed.Load(),
		Panics:        b.c.panics.Load(),
		Connected:     b.c.connected.Load(),
	}
	if head, done := b.c.headRev.Load(), b.c.doneRev.Load(); done > 0 && head > done {
		s.Behind = head - done
	}
	s.LastLag, s.LagP50, s.LagP99 = b.lags.quantiles()
	return s
}

// seen records a revision etcd reported in a response header.
func (c *counters) seen(rev int64) { maxStore(&c.headRev, rev) }

// done records that every event up to rev has been processed.
func (c *counters) done(rev int64) {
	maxStore(&c.doneRev, rev)
	c.seen(rev)
}

func maxStore(v *atomic.Int64, n int64) {
	for {
		old := v.Load()
		if n <= old || v.CompareAndSwap(old, n) {
			return
		}
	}
}

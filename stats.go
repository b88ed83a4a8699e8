package cached

import (
	"sync/atomic"
)

// FuncStats are the counters of one function (or the sum over several, from
// [Stats.Total]). Each field counts the [Event] kind of the same name.
type FuncStats struct {
	Hits         uint64
	Misses       uint64
	Loads        uint64
	LoadErrors   uint64
	NegativeHits uint64
	StaleServed  uint64
	Coalesced    uint64
	Evictions    uint64
	Refreshes    uint64
	GuardRejects uint64
	Bypasses     uint64
	StoreErrors  uint64
	LockErrors   uint64
	PolicyErrors uint64
	CodecErrors  uint64
	BusErrors    uint64
}

// Stats is a snapshot of a [Cache]'s counters, by function name.
type Stats struct {
	Funcs map[string]FuncStats
}

// Total returns the sum of the counters of every function.
func (s Stats) Total() FuncStats {
	var t FuncStats
	for _, f := range s.Funcs {
		t.add(f)
	}
	return t
}

func (t *FuncStats) add(f FuncStats) {
	t.Hits += f.Hits
	t.Misses += f.Misses
	t.Loads += f.Loads
	t.LoadErrors += f.LoadErrors
	t.NegativeHits += f.NegativeHits
	t.StaleServed += f.StaleServed
	t.Coalesced += f.Coalesced
	t.Evictions += f.Evictions
	t.Refreshes += f.Refreshes
	t.GuardRejects += f.GuardRejects
	t.Bypasses += f.Bypasses
	t.StoreErrors += f.StoreErrors
	t.LockErrors += f.LockErrors
	t.PolicyErrors += f.PolicyErrors
	t.CodecErrors += f.CodecErrors
	t.BusErrors += f.BusErrors
}

// stripes spreads a counter that is bumped on the hit path over several cache lines, so
// that parallel hits do not fight over one.
const stripes = 8

type stripedCounter struct {
	cells [stripes]struct {
		n atomic.Uint64
		_ [56]byte // pad to a cache line
	}
}

// add adds one to cell i, which is chosen by the caller: drawing it here would cost a
// random number on every hit, so each entry draws its cell once, when it is built, and
// parallel hits on different keys spread over the cells.
func (c *stripedCounter) add(i uint8) { c.cells[i%stripes].n.Add(1) }

func (c *stripedCounter) load() uint64 {
	var n uint64
	for i := range c.cells {
		n += c.cells[i].n.Load()
	}
	return n
}

// counters are the counters of one function name. Hits and negative hits are on the hit
// path and striped; the rest happen on the miss path, which costs far more than one
// contended add.
type counters struct {
	hits          stripedCounter
	negHits       stripedCounter
	other         [numKinds]atomic.Uint64
	evictionsSeen atomic.Uint64 // evictions already reported to the Observer
}

func (c *counters) inc(k EventKind) { c.incAt(k, 0) }

// incAt counts an event; stripe picks the cell of a striped counter.
func (c *counters) incAt(k EventKind, stripe uint8) {
	switch k {
	case Hit:
		c.hits.add(stripe)
	case NegativeHit:
		c.negHits.add(stripe)
	default:
		c.other[k].Add(1)
	}
}

func (c *counters) snapshot() FuncStats {
	o := &c.other
	return FuncStats{
		Hits:         c.hits.load(),
		Misses:       o[Miss].Load(),
		Loads:        o[Load].Load(),
		LoadErrors:   o[LoadError].Load(),
		NegativeHits: c.negHits.load(),
		StaleServed:  o[StaleServed].Load(),
		Coalesced:    o[Coalesced].Load(),
		Evictions:    o[Eviction].Load(),
		Refreshes:    o[Refresh].Load(),
		GuardRejects: o[GuardReject].Load(),
		Bypasses:     o[Bypass].Load(),
		StoreErrors:  o[StoreError].Load(),
		LockErrors:   o[LockError].Load(),
		PolicyErrors: o[PolicyError].Load(),
		CodecErrors:  o[CodecError].Load(),
		BusErrors:    o[BusError].Load(),
	}
}

package bloom

import "sync/atomic"

// Stats describe a [Guard] now.
type Stats struct {
	Keys            uint64  // keys in the live filter: an estimate, the larger of the Adds new to it and what its fill implies
	Expected        uint    // keys the live filter was sized for
	Overfilled      bool    // Keys > Expected: false positives are above target until a rebuild sizes up
	Bits            uint64  // the live filter's size in bits (Bits/8/Keys is its bytes per key)
	Fill            float64 // fraction of its bits set
	EstimatedFPRate float64 // false-positive rate its fill gives now
	TargetFPRate    float64 // the rate it was built for
	Open            bool    // accepting every key: a resync lost keys and no rebuild has run since
	Rebuilds        uint64  // rebuilds swapped in
	RebuildErrors   uint64  // rebuilds that failed (the filter stayed)
	Resyncs         uint64  // times the Bus said messages were lost
	Sent            uint64  // keys sent on the Bus
	Received        uint64  // keys received from other instances
	SendErrors      uint64  // Bus publishes that failed
	Panics          uint64  // background goroutines that panicked (recovered)
}

type counters struct {
	rebuilds, rebuildErrors, resyncs, sent, received, sendErrors, panics atomic.Uint64
}

// Stats returns the guard's counters and the live filter's state. It counts the set bits
// of the filter: call it for metrics, not on a hot path.
func (g *Guard) Stats() Stats {
	f := g.gen.Load()
	bits, fill, fp, keys := f.usage()
	c := &g.stats
	return Stats{
		Keys: keys, Expected: f.expected, Overfilled: keys > uint64(f.expected),
		Bits: bits, Fill: fill, EstimatedFPRate: fp, TargetFPRate: f.fpRate,
		Open:     g.open.Load(),
		Rebuilds: c.rebuilds.Load(), RebuildErrors: c.rebuildErrors.Load(), Resyncs: c.resyncs.Load(),
		Sent: c.sent.Load(), Received: c.received.Load(), SendErrors: c.sendErrors.Load(),
		Panics: c.panics.Load(),
	}
}

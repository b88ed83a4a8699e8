package memcached

import "sync/atomic"

// Stats are a [Store]'s counters since it was built.
type Stats struct {
	Gets         uint64 // Get calls (GetMulti counts one per key)
	Hits         uint64 // values found and decoded
	Sets         uint64 // values written
	Deletes      uint64 // Delete calls
	Errors       uint64 // calls a server did not answer (down, timed out, server error)
	Rejected     uint64 // calls failed at once because the server's breaker was open
	Trips        uint64 // times a breaker opened
	Corrupt      uint64 // values of a foreign or corrupt format: treated as misses and deleted
	TooLarge     uint64 // values over MaxItemSize: not written
	FenceDropped uint64 // writes dropped because a newer lock holder had written the key
	Leases       uint64 // leases placed on misses
	LeaseWaits   uint64 // reads that found another reader's lease and waited for its value
	LeaseWaited  uint64 // of those, reads that got the value by waiting (the rest loaded)
	LeaseLost    uint64 // write-backs dropped: the lease was deleted (an Invalidate), expired, or never held (the wait for another's ran out)
	Contended    uint64 // writes that lost the compare-and-swap race to other writers four times (theirs stand)
}

type counters struct {
	gets, hits, sets, deletes, errors, rejected, trips, corrupt, tooLarge, fenceDropped atomic.Uint64
	leases, leaseWaits, leaseWaited, leaseLost, contended                               atomic.Uint64
}

// Stats returns a snapshot of the store's counters.
func (s *Store) Stats() Stats {
	c := &s.stats
	return Stats{
		Gets: c.gets.Load(), Hits: c.hits.Load(), Sets: c.sets.Load(), Deletes: c.deletes.Load(),
		Errors: c.errors.Load(), Rejected: c.rejected.Load(), Trips: c.trips.Load(),
		Corrupt: c.corrupt.Load(), TooLarge: c.tooLarge.Load(), FenceDropped: c.fenceDropped.Load(),
		Leases: c.leases.Load(), LeaseWaits: c.leaseWaits.Load(), LeaseWaited: c.leaseWaited.Load(),
		LeaseLost: c.leaseLost.Load(), Contended: c.contended.Load(),
	}
}

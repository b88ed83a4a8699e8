package lock

import "sync/atomic"

// Stats are an [Etcd] Locker's counters since it was built.
type Stats struct {
	Acquired  uint64 // locks taken
	Contended uint64 // of those, locks another holder had: the Lock waited for it
	Timeouts  uint64 // Lock calls whose context ended while another holder kept the lock
	Errors    uint64 // requests etcd did not answer (down, partitioned, timed out)
	Rejected  uint64 // Lock calls failed at once because the breaker was open
	Trips     uint64 // times the breaker opened
	Lost      uint64 // locks found lost at Unlock (their session's lease had expired)
	Sessions  uint64 // sessions created: 1, plus one per lost or abandoned session replaced
}

type counters struct {
	acquired, contended, timeouts, errors, rejected, trips, lost, sessions atomic.Uint64
}

// Stats returns a snapshot of the Locker's counters.
func (l *Etcd) Stats() Stats {
	c := &l.stats
	return Stats{
		Acquired: c.acquired.Load(), Contended: c.contended.Load(), Timeouts: c.timeouts.Load(),
		Errors: c.errors.Load(), Rejected: c.rejected.Load(), Trips: c.trips.Load(),
		Lost: c.lost.Load(), Sessions: c.sessions.Load(),
	}
}

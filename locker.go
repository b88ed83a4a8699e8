package cached

import "context"

// Locker is a lock shared by the instances of a fleet (package lock puts one on etcd).
// Within one process the engine already coalesces the callers of a key into one flight, so
// a Locker is asked once per key per process, by the flight's leader, and only after an
// in-process and a [Store] miss. Once it holds the lock the engine reads the Store again
// (another instance may have loaded the key while it waited) before it loads.
//
// The engine releases the lock once the value is in the Store and the flight's callers
// have their answer.
//
// Implementations must be safe for concurrent use.
type Locker interface {
	// Lock blocks until it holds the lock on key, or ctx ends. ctx is the flight's
	// detached context, bounded by [LockTimeout] and [LoadTimeout]; it bounds the wait
	// only, not the life of the lock. An error means the lock is not held; the engine then
	// does what [LockFallback] says. A Locker that cannot reach its server should fail
	// fast (a circuit breaker) rather than make every miss wait for ctx to end.
	Lock(ctx context.Context, key string) (Unlocker, error)
}

// Unlocker is a held lock.
type Unlocker interface {
	// Unlock releases the lock. The engine calls it once, also after the lock was lost;
	// a lock that was lost before Unlock (its lease expired, say) must be reported as an
	// error, not assumed held. An error is counted and logged, never returned to the
	// caller of the cached function.
	Unlock(ctx context.Context) error

	// Fence returns a token that grows with every acquisition of the key, or 0 when
	// the Locker gives none. The engine stores it with the value ([Item.Fence]) so that
	// a store can refuse a write from a holder that lost its lock to a newer one.
	Fence() uint64
}

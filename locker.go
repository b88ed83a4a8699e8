package cached

import "context"

// Locker is a lock shared by the instances of a fleet (package lock puts one on etcd).
// Within one process the engine already coalesces the callers of a key into one flight, so
// a Locker is asked once per key per process, by the flight's leader, and only after an
// in-process and a [Store] miss. Once it holds the lock the engine reads the Store again
// (another instance may have loaded the key while it waited) before it loads.
//
// Implementations must be safe for concurrent use.
type Locker interface {
	// Lock blocks until it holds the lock on key, or ctx ends. ctx is the flight's
	// detached context, bounded by [LoadTimeout]. An error means the lock is not held;
	// the engine then applies the function's [Fallback].
	Lock(ctx context.Context, key string) (Unlocker, error)
}

// Unlocker is a held lock.
type Unlocker interface {
	// Unlock releases the lock. It is called once, also after the lock was lost; an
	// error is counted and logged, never returned to the caller of the cached function.
	Unlock(ctx context.Context) error

	// Fence returns a token that grows with every acquisition of the key, or 0 when
	// the Locker gives none. The engine stores it with the value ([Item.Fence]) so that
	// a store can refuse a write from a holder that lost its lock to a newer one.
	Fence() uint64
}

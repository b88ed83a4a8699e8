package lock

import "errors"

var (
	// ErrUnavailable is returned by Lock while the Locker's breaker is open: etcd did not
	// answer its last requests, and the Locker does not make every miss wait to find
	// out again.
	ErrUnavailable = errors.New("lock: etcd unavailable (breaker open)")

	// ErrLost is returned by Unlock when the lock was no longer held: the session's lease
	// expired (the process stalled or lost etcd for longer than the TTL), so another
	// holder may have had the lock meanwhile. A value written under a lost lock carries
	// an older fencing token than the next holder's, and a fencing store drops it.
	ErrLost = errors.New("lock: lock lost (session lease expired)")

	// ErrNotHeld is returned by a second Unlock of the same lock.
	ErrNotHeld = errors.New("lock: unlock of a lock not held")

	// ErrClosed is returned by Lock after Close.
	ErrClosed = errors.New("lock: locker closed")
)

package cached

import (
	"context"
	"time"
)

// Store is a byte store shared by the instances of a fleet, such as memcached
// (package store/memcached). The engine keeps its own in-process tier in front of it, so a
// Store is consulted only on in-process misses.
//
// Implementations must be safe for concurrent use. Keys are arbitrary strings (any length,
// any bytes, the empty string included); a store whose backend limits keys (memcached: 250
// bytes, no spaces or control characters) maps them so that distinct keys never share an
// entry. A Store owns the wire format of an [Item]: it may frame the fields in an envelope
// of its own, and must return what it was given (Written and Fresh to within a
// millisecond). Package storetest checks an implementation against this contract.
type Store interface {
	// Get returns the item stored under key. A missing key is ok == false with a nil
	// error; so is a value the store cannot read (corrupt, foreign or of an older format),
	// which the store should delete and count. An error means the store could not answer
	// (unreachable, timed out): the engine then applies the function's [Fallback].
	// ctx bounds the call; a store whose client takes no context derives its deadline from
	// ctx.
	Get(ctx context.Context, key string) (it Item, ok bool, err error)

	// Set stores it under key for ttl (always positive; a store rounds it up to its own
	// resolution and never turns it into "never expires"). A store that supports fencing
	// must drop, without error, a write whose it.Fence is nonzero and lower than the fence
	// of the item it would replace; a write with Fence 0 (Put, or a load under no lock) is
	// unconditional and keeps the replaced item's fence, so that fences never go
	// backwards. A value too large for the store is dropped without error and counted by
	// the store.
	Set(ctx context.Context, key string, it Item, ttl time.Duration) error

	// Delete removes key. Deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error
}

// Item is what the engine stores in a [Store] under one key.
type Item struct {
	// Value is the [Codec]'s encoding of the value; empty for a negative item.
	Value []byte
	// Negative marks a cached not-found result.
	Negative bool
	// Written is when the value was loaded.
	Written time.Time
	// Fresh is when the value stops being fresh. Between Fresh and the store's own
	// expiry the item is stale: served only within the stale windows
	// ([StaleWhileRevalidate], [StaleIfError]).
	Fresh time.Time
	// Delta is how long the load took; [EarlyRefresh] uses it.
	Delta time.Duration
	// Fence is the fencing token of the lock held while the value was loaded
	// ([Unlocker.Fence]), 0 when none was held.
	Fence uint64
}

// Releaser is an optional extension of a [Store] that holds something for a key between a
// miss and the value's write-back, such as a lease (package store/memcached). The engine
// calls Release when a flight whose Store read was a miss ends without writing back: the
// loader failed, the result is not to be cached, or an Invalidate or Put superseded the
// flight. Release must not fail the call; its errors are the store's to count.
type Releaser interface {
	Release(ctx context.Context, key string)
}

// IsWriteBack reports whether ctx is the context of a Store.Set that writes back a value a
// flight loaded after reading a miss from the Store, as opposed to a Put or a Refresh. A
// Store that guards misses with leases lets only write-backs through its lease, and treats
// every other write as unconditional.
func IsWriteBack(ctx context.Context) bool {
	v, _ := ctx.Value(writeBackKey{}).(bool)
	return v
}

type writeBackKey struct{}

// MultiGetter is an optional extension of a [Store] that reads many keys in one round
// trip. Batch functions ([WrapBatch]) use it when the Store implements it, and fall back to
// one Get per key otherwise.
type MultiGetter interface {
	// GetMulti returns the items found; missing or unreadable keys are absent from the
	// map. An error means the store could not answer at all.
	GetMulti(ctx context.Context, keys []string) (map[string]Item, error)
}

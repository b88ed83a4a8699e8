package cached

import "time"

// Observer receives the events the engine counts in [Cache.Stats], for metrics and
// tracing. Observe is called synchronously on the path of the call that caused the event,
// hits included, so it must be fast, must not block, and must be safe for concurrent use.
// It must not call back into the Cache.
type Observer interface {
	Observe(e Event)
}

// ObserverFunc adapts a function to an [Observer].
type ObserverFunc func(e Event)

// Observe calls fn(e).
func (fn ObserverFunc) Observe(e Event) { fn(e) }

// Event is one thing that happened to one function.
type Event struct {
	Func     string        // the function's name
	Kind     EventKind     // what happened
	Duration time.Duration // for Load and LoadError: how long the loader ran
	Err      error         // for LoadError and the plug-in failures: the error
	Count    uint64        // how many occurrences the event stands for: 1, or more for Eviction
}

// EventKind says what an [Event] reports. Each kind has a counter of the same name in
// [FuncStats].
type EventKind uint8

// The kinds of [Event].
const (
	Hit         EventKind = iota // a fresh value served from the in-process tier or the store
	Miss                         // no fresh value: the call went to a flight
	Load                         // the loader returned a value or a not-found result
	LoadError                    // the loader returned another error, or panicked
	NegativeHit                  // a cached not-found result replayed
	StaleServed                  // an expired value served (stale-while-revalidate or stale-if-error)
	Coalesced                    // a caller joined a load already in flight instead of starting one
	Eviction                     // the in-process tier evicted entries to stay within its bound (reported on the next miss, with Count)
	Refresh                      // a background refresh started (stale-while-revalidate, early refresh)
	GuardReject                  // the Guard ruled a key out: not found, no load
	Bypass                       // the Policy sent the call straight to the loader
	StoreError                   // the Store failed
	LockError                    // the Locker failed or timed out
	PolicyError                  // the Policy failed
	CodecError                   // a value could not be encoded or decoded
	BusError                     // the Bus failed to publish or delivered a resync
	numKinds
)

var kindNames = [numKinds]string{
	"hit", "miss", "load", "load_error", "negative_hit", "stale_served", "coalesced",
	"eviction", "refresh", "guard_reject", "bypass", "store_error", "lock_error",
	"policy_error", "codec_error", "bus_error",
}

// String returns the kind's name in snake case, as metrics systems expect ("load_error").
func (k EventKind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "unknown"
}

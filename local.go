package cached

import (
	"time"

	"github.com/maypok86/otter/v2"
)

// entry is one value in the in-process tier. It is immutable once stored: a hit reads
// it without locks, copies nothing and allocates nothing.
type entry[V any] struct {
	val V
	err error // non-nil for a cached not-found result: the error replayed to callers

	// Deadlines in clock nanoseconds (see clock). An entry is fresh before fresh, may be
	// served stale-while-revalidate before swr and stale-if-error before sie; the tier
	// drops it after the latest of the three.
	fresh, swr, sie int64
	life            time.Duration // from insertion to the tier dropping it
	delta           time.Duration // how long its load took, for EarlyRefresh
	set             *settings     // the rules it was stored under
	stripe          uint8         // the cell of the striped hit counters this entry's hits go to
	cost            uint32        // its weight in a tier bounded by LocalCost (1 otherwise)
}

// clockResolution is how often the Cache's clock reads the time. Reading the precise time
// costs about 25ns here, half of an in-process hit; reading the coarse clock costs an
// atomic load. TTLs are measured to within this resolution.
const clockResolution = time.Millisecond

// newClock returns the time source of a Cache and of its in-process tiers: nanoseconds,
// read once per clockResolution by a goroutine that Close stops (and that stops by itself
// once the clock is unreachable). Inside a testing/synctest bubble it follows the
// bubble's fake time.
func newClock() *otter.CoarseClock { return otter.NewCoarseClock(clockResolution) }

// local is a function's in-process tier, on otter (W-TinyLFU eviction, per-entry
// expiry). Why otter and not a hand-written LRU: its reads are lock-free and allocation
// free, and W-TinyLFU keeps a hot set better than LRU under scans. See
// docs/design/engine.md for the measurements.
type local[K comparable, V any] struct {
	c *otter.Cache[K, *entry[V]]
}

func newLocal[K comparable, V any](size int, maxCost uint64, clk *otter.CoarseClock, onEvict func()) *local[K, V] {
	o := &otter.Options[K, *entry[V]]{
		Clock: clk,
		ExpiryCalculator: otter.ExpiryWritingFunc(func(e otter.Entry[K, *entry[V]]) time.Duration {
			return e.Value.life
		}),
		OnAtomicDeletion: func(e otter.DeletionEvent[K, *entry[V]]) {
			if e.Cause == otter.CauseOverflow {
				onEvict()
			}
		},
	}
	if maxCost > 0 {
		o.MaximumWeight = maxCost
		o.Weigher = func(_ K, e *entry[V]) uint32 { return e.cost }
	} else {
		o.MaximumSize = size
	}
	return &local[K, V]{c: otter.Must(o)}
}

// get returns k's entry, if the tier holds it.
func (l *local[K, V]) get(k K) (*entry[V], bool) { return l.c.GetIfPresent(k) }

func (l *local[K, V]) set(k K, e *entry[V]) {
	if e.life > 0 {
		l.c.Set(k, e)
	} else {
		l.c.Invalidate(k)
	}
}

func (l *local[K, V]) del(k K) { l.c.Invalidate(k) }

func (l *local[K, V]) clear() { l.c.InvalidateAll() }

func (l *local[K, V]) close() { l.c.StopAllGoroutines() }

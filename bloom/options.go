package bloom

import (
	"context"
	"iter"
	"log/slog"
	"time"

	"github.com/cachedgo/cached"
)

// Option configures a [Guard].
type Option func(*config)

// Source lists every key that exists, for a rebuild: a SELECT id over the table, say. It
// is called once per rebuild.
type Source func(ctx context.Context) (iter.Seq[string], error)

type config struct {
	name    string
	source  Source
	every   time.Duration
	bus     cached.Bus
	flush   time.Duration
	store   cached.Store
	snapTTL time.Duration // 0: DefaultSnapshotTTL (see SnapshotTTL)
	logger  *slog.Logger
	timeout time.Duration
}

// Defaults of a [Guard] built with no options.
const (
	DefaultName         = "guard"
	DefaultFlush        = 100 * time.Millisecond
	DefaultTimeout      = 30 * time.Second
	overfillGrowth      = 2  // a rebuild after overfill sizes for twice the keys it found
	rebuildRetryDivisor = 10 // a failed periodic rebuild is retried after every/10
)

// Name names the guard where it meets other instances: its Bus messages and its
// snapshots in the Store. Guards of one function on every instance share a name; guards
// of different functions must not. Default: "guard".
func Name(name string) Option {
	if name == "" {
		panic("bloom: Name must not be empty")
	}
	return func(c *config) { c.name = name }
}

// RebuildFrom sets where a rebuild reads the keys that exist, and rebuilds every d (0: only
// when [Guard.Rebuild] is called, or after a resync of the Bus). A Bloom filter cannot
// forget a deleted key, and overfills past its expected size: a rebuild builds a fresh
// filter, sized up if the old one overfilled, and swaps it in atomically. Default: none.
func RebuildFrom(src Source, every time.Duration) Option {
	if src == nil || every < 0 {
		panic("bloom: RebuildFrom needs a Source and a non-negative period")
	}
	return func(c *config) { c.source, c.every = src, every }
}

// WithBus keeps the guards of a fleet in step: a key added on one instance (a record just
// created there) is sent to every other within the flush period (see [Flush]). Without a
// Bus a guard serves one instance: in a fleet, a record created on another instance is
// "not found" here until this guard's next rebuild or Fill. Default: none.
func WithBus(b cached.Bus) Option { return func(c *config) { c.bus = b } }

// Flush sets how often added keys are sent on the Bus, batched. Default: 100ms.
func Flush(d time.Duration) Option {
	if d <= 0 {
		panic("bloom: Flush must be positive")
	}
	return func(c *config) { c.flush = d }
}

// WithStore lets the guard keep a snapshot of its filter in the Store shared by the fleet
// ([Guard.SaveSnapshot], after each rebuild) and start from it ([Guard.LoadSnapshot]), so
// that a new instance starts warm without scanning the database. Default: none.
func WithStore(s cached.Store) Option { return func(c *config) { c.store = s } }

// Logger sets where the guard logs rebuild, bus and snapshot failures and overfill. nil
// discards them. Default: [slog.Default].
func Logger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.logger = l
	}
}

// Timeout bounds a periodic rebuild, including reading the Source. Default: 30 seconds.
func Timeout(d time.Duration) Option {
	if d <= 0 {
		panic("bloom: Timeout must be positive")
	}
	return func(c *config) { c.timeout = d }
}

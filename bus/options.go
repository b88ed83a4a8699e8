package bus

import (
	"fmt"
	"log/slog"
	"time"
)

// Option configures an [Etcd] bus. Options with invalid values panic when they are built:
// they are programmer errors, caught at construction.
type Option func(*config)

// Defaults of an [Etcd] bus built with no options.
const (
	DefaultPrefix   = "/cached/bus/"
	DefaultEventTTL = 30 * time.Second
	DefaultTimeout  = 2 * time.Second
)

type config struct {
	prefix   string
	ttl      time.Duration
	timeout  time.Duration
	logger   *slog.Logger
	startRev int64 // for tests: the revision to watch from instead of the current one
}

func defaultConfig() config {
	return config{prefix: DefaultPrefix, ttl: DefaultEventTTL, timeout: DefaultTimeout}
}

// Prefix sets the etcd key prefix under which the bus writes and watches its events.
// Every instance that shares the bus must use the same prefix, and nothing else should
// write under it. It must not be empty and should end in "/". Default: [DefaultPrefix],
// "/cached/bus/".
func Prefix(p string) Option {
	if p == "" {
		panic("bus: Prefix: must not be empty")
	}
	return func(c *config) { c.prefix = p }
}

// EventTTL sets how long an event key stays in etcd: each key is attached to a lease of
// this TTL, granted at most EventTTL/2 before the write and never kept alive, so every
// key is gone within EventTTL of being written (and lives at least EventTTL/2). etcd
// grants whole seconds: d is rounded up to a second. A watcher that falls behind by more
// than this still reads the events from etcd's history until it is compacted. It must be
// at least a second. Default: [DefaultEventTTL], 30 seconds.
func EventTTL(d time.Duration) Option {
	if d < time.Second {
		panic(fmt.Sprintf("bus: EventTTL(%v): must be at least 1s", d))
	}
	d = (d + time.Second - 1) / time.Second * time.Second
	return func(c *config) { c.ttl = d }
}

// Timeout bounds each [Etcd.Publish] when the caller's context has no earlier deadline:
// the wait for the bus's earlier publishes to finish, the lease grant (when one is due)
// and the write all share this one budget. It also bounds NewEtcd's read of etcd's
// revision, and sets how quickly a silent watch is noticed: the watcher asks etcd for
// progress every Timeout/2 and counts the watch as lost (Stats.Connected false, then a
// reconnect) when etcd has not answered for twice the Timeout. It must be positive.
// Default: [DefaultTimeout], 2 seconds.
func Timeout(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("bus: Timeout(%v): must be positive", d))
	}
	return func(c *config) { c.timeout = d }
}

// Logger sets where the bus logs what it counts in [Stats]: publish failures, lost
// watches and reconnects, resyncs (compactions among them), malformed events and panics.
// A sync event that could not be written is logged at Debug only (see [Etcd.Publish]).
// nil (the default) discards the logs.
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

package cached

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/cachedgo/cached/jitter"
)

// Option configures a [Cache] (given to [New]: the default for every function of the
// Cache) or one function (given to [NewFunc] or a Wrap function: overrides for that
// function). Options with invalid values panic when they are built: they are programmer
// errors, caught at construction.
type Option func(*config)

// Fallback says what a call does when a plug-in fails: the Store or the Policy (see
// [OnFailure]), or the Locker (see [LockFallback], whose choices the issue tracker and the
// docs call Load, Stale and Error: FailOpen, FailStale and FailClosed).
type Fallback uint8

const (
	// FailOpen calls the loader as if the failed plug-in were not there: availability
	// first. It is the default.
	FailOpen Fallback = iota
	// FailClosed returns the plug-in's error (wrapping [ErrStore], [ErrLock] or
	// [ErrPolicy]) to the caller.
	FailClosed
	// FailStale serves the stale value when there is one and calls the loader otherwise.
	// After a Store or Policy failure a value is stale within [StaleIfError]'s window;
	// after a lock failure, within either stale window (the value is not an error's
	// fallback there but the answer to not waiting longer for another instance's load).
	FailStale
)

// Defaults of a [Cache] built with no options.
const (
	DefaultTTL         = 5 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	DefaultLoadTimeout = 30 * time.Second
	DefaultLockTimeout = 5 * time.Second
	DefaultLocalSize   = 10_000
	// DefaultLocalTTLWithStore caps how long the in-process tier keeps a value when a
	// Store is shared with other instances and no Bus tells this one of their changes.
	DefaultLocalTTLWithStore = 10 * time.Second
)

// config is the set of options before resolution. Zero fields mean "not set" only where
// the matching set flag says so.
type config struct {
	ttl, negTTL, swr, sie, loadTimeout, localTTL time.Duration
	lockTimeout                                  time.Duration
	jitter                                       jitter.Func
	beta                                         float64
	keyFuncs                                     []any // func(T) string values, matched by type in NewFunc
	version, namespace                           string
	notFound                                     func(error) bool
	notFoundErr                                  error
	store                                        Store
	locker                                       Locker
	guard                                        Guard
	policy                                       Policy
	codec                                        Codec
	observer                                     Observer
	bus                                          Bus
	logger                                       *slog.Logger
	fallback                                     Fallback
	lockFallback                                 Fallback
	localSize                                    int
	localMaxCost                                 uint64
	localCost                                    any // func(V) uint32
	freshness                                    any // func(V) Freshness
	localTTLSet                                  bool
}

func defaultConfig() config {
	return config{
		ttl:         DefaultTTL,
		negTTL:      DefaultNegativeTTL,
		jitter:      jitter.Percent(0.1),
		loadTimeout: DefaultLoadTimeout,
		lockTimeout: DefaultLockTimeout,
		codec:       JSON(),
		logger:      slog.Default(),
		localSize:   DefaultLocalSize,
	}
}

func mustNonNegative(opt string, d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("cached: %s(%v): must not be negative", opt, d))
	}
}

// TTL sets how long a loaded value stays fresh, before jitter. It must be positive.
// Default: 5 minutes.
func TTL(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("cached: TTL(%v): must be positive", d))
	}
	return func(c *config) { c.ttl = d }
}

// NegativeTTL sets how long a not-found result ([ErrNotFound], [NotFound]) is cached,
// before jitter. 0 turns negative caching off for the function: every lookup of a missing
// key reaches the loader (choose it where a cached "not found" could let a caller create a
// duplicate). Put on the key replaces a cached not-found at once. Default: 30 seconds.
func NegativeTTL(d time.Duration) Option {
	mustNonNegative("NegativeTTL", d)
	return func(c *config) { c.negTTL = d }
}

// Jitter sets how TTLs are spread so that keys written together do not expire together.
// nil is [jitter.None]. Default: jitter.Percent(0.1), a TTL scaled by a factor in
// [0.9, 1.1].
func Jitter(j jitter.Func) Option {
	if j == nil {
		j = jitter.None()
	}
	return func(c *config) { c.jitter = j }
}

// StaleWhileRevalidate lets an expired value be served for d after it expired, at once,
// while one background load refreshes it. 0 (the default) turns it off.
func StaleWhileRevalidate(d time.Duration) Option {
	mustNonNegative("StaleWhileRevalidate", d)
	return func(c *config) { c.swr = d }
}

// StaleIfError lets an expired value be served for d after it expired when the loader
// fails (not with a not-found result). 0 (the default) turns it off.
func StaleIfError(d time.Duration) Option {
	mustNonNegative("StaleIfError", d)
	return func(c *config) { c.sie = d }
}

// EarlyRefresh turns on probabilistic early recomputation (XFetch: Vattani, Chierichetti
// and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015). A hit on
// a fresh value starts a background refresh with a probability that grows as the value
// nears expiry and with how long its load took: a hit at time t refreshes when
// t - delta·beta·ln(rand) ≥ expiry. beta 1 is the paper's choice; larger refreshes
// earlier. 0 (the default) turns it off.
func EarlyRefresh(beta float64) Option {
	if beta < 0 || math.IsNaN(beta) || math.IsInf(beta, 0) {
		panic(fmt.Sprintf("cached: EarlyRefresh(%v): must be a finite number >= 0", beta))
	}
	return func(c *config) { c.beta = beta }
}

// LoadTimeout bounds a shared load. The load runs on a context detached from the
// cancellation of the caller that started it (each caller waits on its own context and
// may leave early), so this is what stops a hung loader from holding the key's flight
// forever. 0 means no bound. Default: 30 seconds.
func LoadTimeout(d time.Duration) Option {
	mustNonNegative("LoadTimeout", d)
	return func(c *config) { c.loadTimeout = d }
}

// KeyFunc sets how keys of type K become the string that identifies them in the [Store],
// the [Guard], the [Locker] and the [Bus]. string, integer, bool, [fmt.Stringer] and
// [encoding.TextMarshaler] keys need none. For [Wrap2] it may be given for either
// argument's type. NewFunc panics when no KeyFunc matches a key type that needs one. The
// function must be deterministic and give distinct strings to distinct keys.
func KeyFunc[K any](fn func(K) string) Option {
	if fn == nil {
		panic("cached: KeyFunc(nil)")
	}
	return func(c *config) { c.keyFuncs = append(c.keyFuncs, fn) }
}

// Version is part of every key. Changing it orphans the entries stored under the old
// version: use it when the result type's encoding changes. Default: "".
func Version(v string) Option { return func(c *config) { c.version = v } }

// NotFound marks more loader errors as not-found results, cached for [NegativeTTL]:
// for example func(err error) bool { return errors.Is(err, sql.ErrNoRows) }. Errors that
// satisfy errors.Is(err, ErrNotFound) always are. nil restores the default.
func NotFound(is func(error) bool) Option { return func(c *config) { c.notFound = is } }

// NotFoundError is the error a not-found answer carries when no loader error stands
// behind it: a key the [Guard] rules out, a not-found result read from the [Store], a key
// a batch loader left out. The answer matches both [ErrNotFound] and err, so callers that
// check errors.Is(err, sql.ErrNoRows) keep working when a guard answers for the database.
// nil (the default) means an error matching ErrNotFound alone.
func NotFoundError(err error) Option { return func(c *config) { c.notFoundErr = err } }

// WithNamespace is the first part of every key, to keep applications that share a
// [Store] apart. Default: "".
func WithNamespace(ns string) Option { return func(c *config) { c.namespace = ns } }

// WithStore adds a [Store] shared with other instances behind the in-process tier. nil
// (the default) means the in-process tier only.
func WithStore(s Store) Option { return func(c *config) { c.store = s } }

// WithLocker adds a [Locker] shared with other instances, so that one instance of a fleet
// loads a key while the others wait (see [LockTimeout] and [LockFallback]). nil (the
// default) means in-process coalescing only; WithLocker(nil) given to one function turns
// the Cache's Locker off for it. Functions built by [WrapBatch] do not lock: a batch would
// hold one lock per missing key, in an order no other batch shares.
func WithLocker(l Locker) Option { return func(c *config) { c.locker = l } }

// WithGuard adds a [Guard] that rules out keys that cannot exist. nil (the default)
// means none.
func WithGuard(g Guard) Option { return func(c *config) { c.guard = g } }

// WithPolicy lets a [Policy] decide rules at run time. nil (the default) means the options
// alone decide.
func WithPolicy(p Policy) Option { return func(c *config) { c.policy = p } }

// WithCodec sets how values are encoded for the [Store]. nil restores the default, [JSON].
func WithCodec(cd Codec) Option {
	if cd == nil {
		cd = JSON()
	}
	return func(c *config) { c.codec = cd }
}

// WithObserver reports every event to o as well as counting it. nil (the default) means
// counting only.
func WithObserver(o Observer) Option { return func(c *config) { c.observer = o } }

// WithBus connects the Cache to other instances through b: Put and Invalidate on one
// instance drop the key from the in-process tier of every other. It takes effect when
// given to [New]. nil (the default) means none.
func WithBus(b Bus) Option { return func(c *config) { c.bus = b } }

// WithLogger sets where plug-in failures are logged (at most once a second per function
// and kind of failure; every failure is counted). nil discards the logs. Default:
// [slog.Default].
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// OnFailure sets what a call does when the Store or the Policy fails. ([LockFallback]
// decides for the Locker.) Default: [FailOpen].
func OnFailure(f Fallback) Option {
	mustFallback("OnFailure", f)
	return func(c *config) { c.fallback = f }
}

// LockTimeout bounds how long a flight waits for the [Locker]: while another instance
// holds the lock and loads, this one waits for it at most d, then reads the Store once more
// (the holder may just have finished) and, if the key is still missing, does what
// [LockFallback] says. Each caller also leaves when its own context ends. 0 means the wait
// is bounded by [LoadTimeout] alone, which then leaves a fallback load no time: keep
// LockTimeout well under LoadTimeout. Default: 5 seconds.
func LockTimeout(d time.Duration) Option {
	mustNonNegative("LockTimeout", d)
	return func(c *config) { c.lockTimeout = d }
}

// LockFallback sets what a flight does when it cannot take the lock: when [LockTimeout]
// ran out (another instance holds it), or the Locker failed (etcd unreachable, its breaker
// open). The choices:
//
//   - Load, [FailOpen] (the default): load as if there were no Locker. Availability first:
//     while etcd is down each instance loads for itself, as it would with no Locker.
//   - Stale, [FailStale]: serve the stale value this instance or the Store still holds
//     (within [StaleWhileRevalidate] or [StaleIfError]), else load.
//   - Error, [FailClosed]: fail the call with an error wrapping [ErrLock].
//
// Every such failure is counted as a [LockError] and logged.
func LockFallback(f Fallback) Option {
	mustFallback("LockFallback", f)
	return func(c *config) { c.lockFallback = f }
}

func mustFallback(name string, f Fallback) {
	if f > FailStale {
		panic(fmt.Sprintf("cached: %s(%d): unknown Fallback", name, f))
	}
}

// LocalSize bounds the in-process tier of each function to n entries, evicting the ones
// least likely to be used again (W-TinyLFU). 0 turns the in-process tier off (every call
// goes to the Store or the loader; coalescing still applies). Default: 10,000.
func LocalSize(n int) Option {
	if n < 0 {
		panic(fmt.Sprintf("cached: LocalSize(%d): must not be negative", n))
	}
	return func(c *config) { c.localSize = n; c.localCost = nil; c.localMaxCost = 0 }
}

// LocalCost bounds the in-process tier of each function by total cost instead of by entry
// count: cost(v) is an entry's cost (its size in bytes, say), and the tier keeps the total
// at most maxCost. V must be the function's result type; NewFunc panics otherwise.
func LocalCost[V any](maxCost uint64, cost func(V) uint32) Option {
	if maxCost == 0 || cost == nil {
		panic("cached: LocalCost: maxCost must be positive and cost not nil")
	}
	return func(c *config) { c.localMaxCost = maxCost; c.localCost = cost }
}

// LocalTTL caps how long the in-process tier keeps a value fresh; after it the value is
// read again from the [Store]. 0 means no cap. Default: no cap, except
// [DefaultLocalTTLWithStore] when a Store is set and no Bus tells this instance of other
// instances' changes.
func LocalTTL(d time.Duration) Option {
	mustNonNegative("LocalTTL", d)
	return func(c *config) { c.localTTL = d; c.localTTLSet = true }
}

// Freshness is what a value says about its own caching, as an HTTP response's
// Cache-Control does: how long it is fresh and how long it may then be served stale.
type Freshness struct {
	// TTL is how long the value is fresh, before jitter. 0 leaves it to the Policy's
	// Rules.TTL, then to [TTL]; a negative TTL does not store the value.
	TTL time.Duration
	// StaleWhileRevalidate and StaleIfError replace the function's windows when
	// positive; 0 keeps them and a negative duration turns them off for this value.
	StaleWhileRevalidate, StaleIfError time.Duration
}

// FreshnessFunc lets each loaded (or Put) value decide its own TTL and stale windows:
// a token that expires at a known time, a response with max-age, a record that changes
// less often once archived. fn must be fast and must not block: it also runs when a value
// is read back from the Store. V must be the function's result type; NewFunc panics
// otherwise. A [Policy]'s Rules.TTL applies to the values for which fn returns TTL 0.
func FreshnessFunc[V any](fn func(V) Freshness) Option {
	if fn == nil {
		panic("cached: FreshnessFunc(nil)")
	}
	return func(c *config) { c.freshness = fn }
}

// FreshnessOf returns the TTL and stale windows that opts set, each 0 when none of opts
// sets it (later options win, as everywhere). It serves integrations that decide for
// themselves how long a value lives and must know what a Policy's [Rules.Options] say
// about it: package middleware gives each HTTP response an explicit lifetime, from its
// Cache-Control first and from the route's policy after.
func FreshnessOf(opts ...Option) Freshness {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	return Freshness{TTL: cfg.ttl, StaleWhileRevalidate: cfg.swr, StaleIfError: cfg.sie}
}

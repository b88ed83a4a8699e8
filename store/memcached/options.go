package memcached

import "time"

// Option configures a [Store].
type Option func(*config)

type config struct {
	timeout     time.Duration
	maxIdle     int
	maxItemSize int
	threshold   int
	cooldown    time.Duration
	leaseTTL    time.Duration
	leaseWait   time.Duration
}

// Defaults of a [Store] built with no options.
const (
	DefaultTimeout         = 100 * time.Millisecond
	DefaultMaxIdleConns    = 64
	DefaultMaxItemSize     = 1 << 20
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 2 * time.Second
	DefaultLeaseTTL        = 10 * time.Second
	DefaultLeaseWait       = 250 * time.Millisecond
)

func defaults() config {
	return config{
		timeout:     DefaultTimeout,
		maxIdle:     DefaultMaxIdleConns,
		maxItemSize: DefaultMaxItemSize,
		threshold:   DefaultBreakerFailures,
		cooldown:    DefaultBreakerCooldown,
		leaseTTL:    DefaultLeaseTTL,
		leaseWait:   DefaultLeaseWait,
	}
}

// Timeout bounds each round trip to a server (connect, read, write). A cache should fail
// fast: past it, the engine loads instead. Default: 100ms.
func Timeout(d time.Duration) Option {
	if d <= 0 {
		panic("memcached: Timeout must be positive")
	}
	return func(c *config) { c.timeout = d }
}

// MaxIdleConns is how many idle connections are kept per server. gomemcache's default of
// 2 makes parallel callers open and close a connection per call; the default here keeps a
// pool sized for concurrent load. Default: 64.
func MaxIdleConns(n int) Option {
	if n <= 0 {
		panic("memcached: MaxIdleConns must be positive")
	}
	return func(c *config) { c.maxIdle = n }
}

// MaxItemSize is the largest value (envelope included) the store writes; larger ones are
// skipped and counted in [Stats].TooLarge, and the call that loaded them still returns
// them. Match it to the servers' -I setting. Default: 1 MiB, memcached's default.
func MaxItemSize(n int) Option {
	if n <= 0 {
		panic("memcached: MaxItemSize must be positive")
	}
	return func(c *config) { c.maxItemSize = n }
}

// Breaker sets when a server is taken out of use: after failures consecutive failed
// calls, calls to it fail at once (without paying the timeout) for cooldown; then one call
// probes it, and a success puts it back. Defaults: 5 failures, 2s.
func Breaker(failures int, cooldown time.Duration) Option {
	if failures <= 0 || cooldown <= 0 {
		panic("memcached: Breaker needs positive failures and cooldown")
	}
	return func(c *config) { c.threshold, c.cooldown = failures, cooldown }
}

// Leases sets how the store guards misses ("Scaling Memcache at Facebook", NSDI 2013). On
// a miss a reader adds a lease for ttl and loads; its write-back replaces the lease by
// compare-and-swap, so an Invalidate (a delete) that lands during the load makes the write
// fail instead of leaving a stale value for a whole TTL. A reader in another process that
// finds a lease waits up to wait, re-reading, for the value instead of loading it too; past
// wait it loads. ttl should exceed the longest load. Leases(0, 0) turns them off (plain
// cache-aside). Defaults: 10s and 250ms.
func Leases(ttl, wait time.Duration) Option {
	if ttl < 0 || wait < 0 || (ttl == 0) != (wait == 0) {
		panic("memcached: Leases needs ttl and wait both positive, or both 0 to turn leases off")
	}
	return func(c *config) { c.leaseTTL, c.leaseWait = ttl, wait }
}

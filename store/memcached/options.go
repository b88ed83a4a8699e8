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
}

// Defaults of a [Store] built with no options.
const (
	DefaultTimeout         = 100 * time.Millisecond
	DefaultMaxIdleConns    = 64
	DefaultMaxItemSize     = 1 << 20
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 2 * time.Second
)

func defaults() config {
	return config{
		timeout:     DefaultTimeout,
		maxIdle:     DefaultMaxIdleConns,
		maxItemSize: DefaultMaxItemSize,
		threshold:   DefaultBreakerFailures,
		cooldown:    DefaultBreakerCooldown,
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

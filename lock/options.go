package lock

import (
	"fmt"
	"strings"
	"time"
)

// Option configures an [Etcd] Locker.
type Option func(*config)

type config struct {
	ttl       time.Duration
	prefix    string
	threshold int
	cooldown  time.Duration
}

// Defaults of an [Etcd] Locker built with no options.
const (
	DefaultTTL             = 10 * time.Second
	DefaultPrefix          = "/cached/locks/"
	DefaultBreakerFailures = 3
	DefaultBreakerCooldown = 2 * time.Second
)

func defaults() config {
	return config{
		ttl:       DefaultTTL,
		prefix:    DefaultPrefix,
		threshold: DefaultBreakerFailures,
		cooldown:  DefaultBreakerCooldown,
	}
}

// TTL is the lease of the Locker's etcd session: how long the locks of a process that died
// (or stalled: a long GC pause, a frozen VM) outlive it before etcd frees them. The session
// is kept alive while the process runs, so a slow load does not lose its lock; a shorter
// TTL frees a dead holder's locks sooner but loses locks to shorter stalls. etcd grants
// whole seconds: d is rounded up. Default: 10 seconds.
func TTL(d time.Duration) Option {
	if d < time.Second {
		panic(fmt.Sprintf("lock: TTL(%v): etcd leases last at least 1s", d))
	}
	d = (d + time.Second - 1).Truncate(time.Second)
	return func(c *config) { c.ttl = d }
}

// Prefix is where the Locker keeps its keys in etcd: the lock on cache key k is the etcd
// mutex under Prefix+k (see the package doc for long or unusual keys). Lockers that are to
// exclude each other must share it. Default: "/cached/locks/".
func Prefix(p string) Option {
	if p == "" || strings.ContainsRune(p, 0) {
		panic(fmt.Sprintf("lock: Prefix(%q): must be non-empty, without NUL", p))
	}
	return func(c *config) { c.prefix = p }
}

// Breaker sets when the Locker stops asking etcd: after failures consecutive requests
// etcd did not answer, Lock fails at once with [ErrUnavailable] (the engine then does
// what cached.LockFallback says, without waiting) for cooldown; then one Lock probes etcd,
// and its success closes the breaker. A lock wait that runs out because another holder
// keeps the lock is not a failure. Default: 3 failures, 2 seconds.
func Breaker(failures int, cooldown time.Duration) Option {
	if failures <= 0 || cooldown <= 0 {
		panic("lock: Breaker needs positive failures and cooldown")
	}
	return func(c *config) { c.threshold, c.cooldown = failures, cooldown }
}

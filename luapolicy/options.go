package luapolicy

import (
	"fmt"
	"log/slog"
	"runtime"
	"time"
)

// Option configures an [Engine].
type Option func(*config)

type config struct {
	callTimeout time.Duration
	loadTimeout time.Duration
	poolSize    int
	maxKeyLen   int
	maxString   int
	callMemory  int64
	loadMemory  int64
	poll        time.Duration
	logger      *slog.Logger
	onReload    func(Reload)
}

func defaultConfig() config {
	return config{
		callTimeout: time.Millisecond,
		loadTimeout: 100 * time.Millisecond,
		poolSize:    runtime.GOMAXPROCS(0),
		maxKeyLen:   250,
		maxString:   1 << 20,
		callMemory:  16 << 20,
		loadMemory:  64 << 20,
		poll:        time.Second,
	}
}

func positive(opt string, d time.Duration) {
	if d <= 0 {
		panic(fmt.Sprintf("luapolicy: %s(%v): must be positive", opt, d))
	}
}

// CallTimeout bounds one run of a per-call function (key, bypass or ttl). A run that
// takes longer fails with [ErrTimeout]: the call it served falls back to the function's
// own options and the timeout is counted. The bound is wall time, checked every 64 Lua
// VM instructions from the 64th on; what one instruction may cost is bounded separately
// (string sizes, pattern matches, table indexes). Default: 1ms.
func CallTimeout(d time.Duration) Option {
	positive("CallTimeout", d)
	return func(c *config) { c.callTimeout = d }
}

// LoadTimeout bounds a load: the two runs of the script's top level (see [Load]) and
// every example share d, and a script that does not finish within it is rejected with
// [ErrTimeout] instead of hanging the load. Default: 100ms.
func LoadTimeout(d time.Duration) Option {
	positive("LoadTimeout", d)
	return func(c *config) { c.loadTimeout = d }
}

// PoolSize bounds the Lua states (VMs) per loaded version: per-call functions run on at
// most n states at once, and a call that finds all n busy waits for one, up to 100 times
// its [CallTimeout] (runs are bounded, so the queue drains; falling back at once would
// change the call's key under load). States are created on first use and reused.
// Default: GOMAXPROCS.
func PoolSize(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("luapolicy: PoolSize(%d): must be at least 1", n))
	}
	return func(c *config) { c.poolSize = n }
}

// MaxKeyLen bounds the length in bytes of a key a script's key function returns; a longer
// key is an error and the call falls back. Default: 250 (memcached's key limit).
func MaxKeyLen(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("luapolicy: MaxKeyLen(%d): must be at least 1", n))
	}
	return func(c *config) { c.maxKeyLen = n }
}

// MaxString bounds the length in bytes of a string a script builds: by concatenation
// (..), string.rep, string.format, string.gsub, string.upper/lower/reverse/char or
// table.concat. A longer result fails the run with [ErrMemory] before it is allocated.
// Default: 1 MiB.
func MaxString(n int) Option {
	if n < 1 {
		panic(fmt.Sprintf("luapolicy: MaxString(%d): must be at least 1", n))
	}
	return func(c *config) { c.maxString = n }
}

// Memory bounds the bytes allocated during one run of a per-call function (call) and
// during a script's top level (load). A run that allocates more fails with [ErrMemory].
// The count is the process's allocations while the run is on the CPU (runtime/metrics,
// read every 256 VM instructions) plus the exact size of every string the run builds, so
// it errs on the side of stopping a run. Defaults: 16 MiB per call, 64 MiB per load.
func Memory(call, load int64) Option {
	if call < 1 || load < 1 {
		panic(fmt.Sprintf("luapolicy: Memory(%d, %d): must be positive", call, load))
	}
	return func(c *config) { c.callMemory, c.loadMemory = call, load }
}

// PollInterval sets how often [Engine.Watch] reads the policy file and compares its
// checksum with the live version's. Default: 1s.
func PollInterval(d time.Duration) Option {
	positive("PollInterval", d)
	return func(c *config) { c.poll = d }
}

// WithLogger logs reloads, rejected versions and per-call failures (at most one line per
// second for the latter). nil (the default) logs nothing.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// OnReload calls fn after every reload attempt, successful or not, from the goroutine
// that reloaded (Load's, LoadString's, Watch's or WatchEtcd's), outside the Engine's
// locks (fn may call Stats). Content whose checksum is the live version's is not an
// attempt, except right after a rejection: going back to the live content is reported
// (Err nil) and clears Stats.LastError. fn must not block. nil (the default) calls
// nothing.
func OnReload(fn func(Reload)) Option { return func(c *config) { c.onReload = fn } }

// Reload describes one reload attempt, for [OnReload].
type Reload struct {
	Source   string // the file path or "etcd:" and the key
	Version  uint64 // the live version after the attempt (unchanged when Err is set)
	Checksum string // the SHA-256 of the attempted source, hex
	Err      error  // why the attempt was rejected, or nil
}

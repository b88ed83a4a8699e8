package cached

import (
	"context"
	"sync/atomic"
	"time"
)

// Policy decides caching rules at run time, per function name, without a rebuild (package
// luapolicy reads them from hot-reloaded Lua scripts). It is consulted at the start of
// every call.
//
// Implementations must be safe for concurrent use.
type Policy interface {
	// Rules returns the rules in force for the named function, or nil when the policy has
	// none for it (the function's options apply). It is called on every call, hits
	// included, so it must be cheap: an atomic load and a map lookup. It must return the
	// same pointer for as long as the rules do not change, and a new *Rules when they
	// do; the engine compiles each *Rules once and serves from the in-process tier only
	// entries stored under the rules now in force. A Rules must not be modified after it
	// has been returned.
	Rules(name string) *Rules
}

// PolicyGeneration is an optional interface of a [Policy] whose rules change only at known
// moments, such as a reload. With it a function reads its rules with two atomic loads per
// call instead of calling Rules, which matters on the hit path.
type PolicyGeneration interface {
	// Generation returns the Policy's generation counter, the same pointer for the
	// Policy's lifetime. The Policy stores new rules first and then increments the
	// counter; while the counter does not change, Rules must keep returning the same
	// pointer for every name (the engine calls it again only after an increment).
	Generation() *atomic.Uint64
}

func generationOf(p Policy) *atomic.Uint64 {
	if pg, ok := p.(PolicyGeneration); ok {
		return pg.Generation()
	}
	return nil
}

// Rules are a [Policy]'s rules for one function.
type Rules struct {
	// Options are applied over the function's own options: TTL, NegativeTTL, Jitter,
	// the stale windows, EarlyRefresh, Version, WithLocker(nil) to skip the distributed
	// lock, and so on. They are compiled once per Rules, so a function whose rules have
	// no per-call hook pays nothing per call for the policy. Options that choose the
	// key's type or the in-process tier's size (KeyFunc, LocalSize, LocalCost) take
	// effect only when given to NewFunc.
	Options []Option

	// Bypass sends every call straight to the loader, uncached.
	Bypass bool

	// Decide, when set, is called on every call with the call's arguments and may
	// bypass the cache or replace the key. An error is a policy failure: the function's
	// [Fallback] applies.
	Decide func(ctx context.Context, c Call) (Decision, error)

	// TTL, when set, is called after every successful load with the loaded value and
	// returns the TTL to store it with, before jitter; 0 keeps the configured TTL and a
	// negative duration does not store the value. An error is a policy failure and the
	// configured TTL is used.
	TTL func(ctx context.Context, c Call, value any) (time.Duration, error)
}

// Call describes one call to a [Policy].
type Call struct {
	Func string // the function's name
	Key  string // the argument part of the cache key, as a Guard sees it
	Args []any  // the arguments, after the context
}

// Decision is what [Rules.Decide] returns for one call.
type Decision struct {
	// Bypass sends the call straight to the loader, uncached.
	Bypass bool
	// Key, when not empty, replaces the argument part of the cache key. It must depend
	// only on the call's arguments: the in-process tier still finds entries by argument.
	Key string
}

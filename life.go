package cached

import (
	"context"
	"math/rand/v2"
	"time"
)

// life is how long one value is fresh and then may be served stale.
type life struct {
	ttl, swr, sie time.Duration
	own           bool // ttl is the value's own (FreshnessFunc): jitter may only shorten it
}

// stored is how long the Store keeps the value: fresh, then the longest stale window.
func (l life) stored() time.Duration { return l.ttl + max(l.swr, l.sie) }

// windows returns the life of v before jitter, for a value read back from the Store (whose
// TTL the caller replaces): the function's, or what v's FreshnessFunc says.
func (f *Func[K, V]) windows(s *settings, v V, negative bool) life {
	l := life{ttl: s.ttl, swr: s.swr, sie: s.sie}
	if negative {
		l.ttl = s.negTTL
	} else if f.freshness != nil {
		l = f.freshness(v).apply(l)
	}
	return l
}

// apply returns l with what fr says over it.
func (fr Freshness) apply(l life) life {
	if fr.TTL > 0 {
		l.ttl, l.own = fr.TTL, true
	}
	l.swr = window(fr.StaleWhileRevalidate, l.swr)
	l.sie = window(fr.StaleIfError, l.sie)
	return l
}

func window(d, configured time.Duration) time.Duration {
	switch {
	case d > 0:
		return d
	case d < 0:
		return 0
	}
	return configured
}

// lifeFor returns the life of a loaded or Put value, before jitter: what its
// FreshnessFunc says, else what the Policy's Rules.TTL says, else the configured TTL.
// keep is false when either says not to store v.
func (f *Func[K, V]) lifeFor(ctx context.Context, s *settings, k K, arg string, v V) (l life, keep bool) {
	l = life{ttl: s.ttl, swr: s.swr, sie: s.sie}
	if f.freshness != nil {
		fr := f.freshness(v)
		if fr.TTL < 0 {
			return l, false
		}
		if l = fr.apply(l); fr.TTL > 0 {
			return l, true
		}
	}
	if s.rules == nil || s.rules.TTL == nil {
		return l, true
	}
	d, err := s.rules.TTL(ctx, Call{Func: f.name, Key: arg, Args: f.argv(k)}, v)
	switch {
	case err != nil:
		f.fail(s, PolicyError, plugErr(ErrPolicy, f.name, "ttl", arg, err))
	case d < 0:
		return l, false
	case d > 0:
		l.ttl = d
	}
	return l, true
}

// newEntry builds the in-process entry for a loaded value (or, with err set, a not-found
// result), after jittering its TTL, and returns the life it is stored with.
func (f *Func[K, V]) newEntry(s *settings, v V, err error, l life, delta time.Duration) (*entry[V], life) {
	if j := s.jitter(l.ttl); !l.own || j < l.ttl {
		// A value that knows when it expires (a token) is never served past that.
		l.ttl = j
	}
	return f.entryFor(s, v, err, l, delta), l
}

// entryFor builds the in-process entry for a value fresh for l.ttl from now.
func (f *Func[K, V]) entryFor(s *settings, v V, err error, l life, delta time.Duration) *entry[V] {
	ttl := l.ttl
	if s.localTTL > 0 && ttl > s.localTTL {
		ttl = s.localTTL
	}
	now := f.c.clk.NowNano()
	e := &entry[V]{val: v, err: err, delta: delta, set: s, stripe: uint8(rand.Uint32() % stripes), cost: 1}
	if f.cost != nil && err == nil {
		// Computed here, outside f.mu: the tier weighs entries under its own locks, where
		// no user code may run.
		e.cost = max(f.cost(v), 1)
	}
	e.fresh = now + int64(ttl)
	e.swr = e.fresh + int64(l.swr)
	e.sie = e.fresh + int64(l.sie)
	e.life = ttl + max(l.swr, l.sie)
	return e
}

package cached

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
)

// Func is a function with a cache around it. Build one with [NewFunc]; [Wrap] returns its
// Get method, which has the wrapped function's signature.
//
// A Func is safe for concurrent use.
type Func[K comparable, V any] struct {
	c         *Cache
	name      string
	fn        func(context.Context, K) (V, error)
	cfg       config    // the function's own options, over which a Policy's Rules apply
	base      *settings // cfg resolved
	policy    Policy
	gen       *atomic.Uint64 // the Policy's generation, when it has one (PolicyGeneration)
	args      argCodec[K]
	argv      func(K) []any     // the arguments as a Policy sees them
	local     *local[K, V]      // nil when the in-process tier is off
	cost      func(V) uint32    // LocalCost's cost function, or nil
	freshness func(V) Freshness // FreshnessFunc's function, or nil
	stats     *counters
	pol       atomic.Pointer[compiled]
	logged    [numKinds + 1]atomic.Int64 // when each kind of failure (and an observer panic) was last logged

	mu      sync.Mutex // protects flights, the superseded flags of its calls, and orders tier writes
	flights map[K]*call[V]
}

// call is one flight: a load (or a store read) whose result every caller of the key that
// arrives while it runs shares.
type call[V any] struct {
	done       chan struct{} // closed once val and err are set
	val        V
	err        error
	superseded bool // an Invalidate or Put came after the flight started: do not store its result
}

// compiled caches the settings compiled from one *Rules and, for a Policy with a
// generation, the generation the Rules were read at.
type compiled struct {
	rules  *Rules
	s      *settings
	gen    uint64
	genOK  bool // gen is set: while the Policy's generation is gen, rules are current
	static bool // no Bypass and no Decide: a call needs nothing but s
}

// NewFunc returns fn with a cache around it, under name. The name is part of every key and
// names the function in [Cache.Stats]; functions of one Cache should have distinct names
// unless they are the same function. opts override the Cache's options for this function.
//
// NewFunc panics if name is empty, fn is nil, or K has no string form (see [KeyFunc]).
func NewFunc[K comparable, V any](c *Cache, name string, fn func(context.Context, K) (V, error), opts ...Option) *Func[K, V] {
	if fn == nil {
		panic("cached: NewFunc(" + name + "): nil function")
	}
	cfg := c.funcConfig(name, opts)
	kc := mustKeyCodec[K]("NewFunc("+name+")", cfg.keyFuncs)
	return newFunc(c, name, fn, cfg, singleArg(kc), func(k K) []any { return []any{k} })
}

func (c *Cache) funcConfig(name string, opts []Option) config {
	if name == "" {
		panic("cached: a function needs a name")
	}
	cfg := c.cfg
	cfg.keyFuncs = slices.Clip(cfg.keyFuncs) // appends must not write into the Cache's slice
	for _, o := range opts {
		o(&cfg)
	}
	return cfg
}

func newFunc[K comparable, V any](c *Cache, name string, fn func(context.Context, K) (V, error), cfg config, args argCodec[K], argv func(K) []any) *Func[K, V] {
	cfg.keyFuncs = slices.Clip(cfg.keyFuncs)
	f := &Func[K, V]{
		c:       c,
		name:    name,
		fn:      fn,
		cfg:     cfg,
		base:    resolve(&cfg, name, c.cfg.bus != nil, nil),
		policy:  cfg.policy,
		gen:     generationOf(cfg.policy),
		args:    args,
		argv:    argv,
		flights: make(map[K]*call[V]),
	}
	var closer func()
	if cfg.localSize > 0 || cfg.localCost != nil {
		if cfg.localCost != nil {
			var ok bool
			if f.cost, ok = cfg.localCost.(func(V) uint32); !ok {
				panic("cached: NewFunc(" + name + "): LocalCost's cost function does not take the function's result type")
			}
		}
		f.local = newLocal[K, V](cfg.localSize, cfg.localMaxCost, c.clk, func() { f.stats.inc(Eviction) })
		closer = f.local.close
	}
	if cfg.freshness != nil {
		var ok bool
		if f.freshness, ok = cfg.freshness.(func(V) Freshness); !ok {
			panic("cached: NewFunc(" + name + "): FreshnessFunc's function does not take the function's result type")
		}
	}
	f.stats = c.register(name, f, closer)
	return f
}

// Get returns the value for k: from the in-process tier when fresh there, else from the
// flight that loads it (the Store, then the loader). It has the signature of the wrapped
// function and returns the loader's errors unchanged; a cached not-found result is
// replayed as an error satisfying errors.Is(err, ErrNotFound) (and wrapping the loader's
// original error when it was loaded by this process). If ctx ends first, Get returns
// ctx.Err() at once while the load goes on for the other callers.
func (f *Func[K, V]) Get(ctx context.Context, k K) (V, error) {
	s := f.base
	var rt route
	if c := f.pol.Load(); c != nil && c.static && c.genOK && c.gen == f.gen.Load() {
		s = c.s // rules with no per-call hook, current: the hit path's only policy cost
	} else if f.policy != nil {
		var err error
		if s, rt, err = f.route(ctx, k); err != nil {
			if v, err, done := f.policyFailed(k, err); done {
				return v, err
			}
			s, rt = f.base, route{} // as if there were no Policy
		}
		if rt.bypass {
			f.count(s, Bypass)
			return f.fn(ctx, k)
		}
	}
	var stale *entry[V]
	if f.local != nil {
		if e, ok := f.local.get(k); ok && e.set == s {
			now := f.c.clk.NowNano()
			if now < e.fresh {
				if s.beta > 0 && early(e, now, s.beta) {
					f.refresh(ctx, k, s, rt, e)
				}
				return f.hit(s, e)
			}
			if now < e.swr {
				f.count(s, StaleServed)
				f.refresh(ctx, k, s, rt, e)
				return e.val, e.err
			}
			stale = e
		}
	}
	return f.miss(ctx, k, s, rt, stale)
}

func (f *Func[K, V]) hit(s *settings, e *entry[V]) (V, error) {
	k := Hit
	if e.err != nil {
		k = NegativeHit
	}
	f.stats.incAt(k, e.stripe)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: k, Count: 1})
	}
	return e.val, e.err
}

// early reports whether a hit at now should refresh e before it expires (XFetch).
func early[V any](e *entry[V], now int64, beta float64) bool {
	gap := float64(e.delta) * beta * -math.Log(1-rand.Float64())
	return float64(now)+gap >= float64(e.fresh)
}

// route is what a Policy decided for one call.
type route struct {
	arg    string // the argument part of the key, when set
	hasArg bool
	bypass bool
}

// route consults the Policy.
func (f *Func[K, V]) route(ctx context.Context, k K) (*settings, route, error) {
	r, s := f.rules()
	if r == nil {
		return s, route{}, nil
	}
	if r.Bypass {
		return s, route{bypass: true}, nil
	}
	if r.Decide == nil {
		return s, route{}, nil
	}
	arg, err := f.args.enc(k)
	if err != nil {
		return s, route{}, err
	}
	d, err := r.Decide(ctx, Call{Func: f.name, Key: arg, Args: f.argv(k)})
	if err != nil {
		return s, route{}, err
	}
	if d.Key != "" {
		arg = d.Key
	}
	return s, route{arg: arg, hasArg: true, bypass: d.Bypass}, nil
}

// rules returns the Policy's Rules for f (nil when it has none) and the settings they
// compile to (f.base for nil). With a PolicyGeneration this is two atomic loads and a
// compare while the generation stands; otherwise it calls Rules.
func (f *Func[K, V]) rules() (*Rules, *settings) {
	var g uint64
	if f.gen != nil {
		// Load the generation before reading Rules: the Policy stores new rules before
		// it increments the generation, so rules read after seeing g are at least g's.
		g = f.gen.Load()
		if c := f.pol.Load(); c != nil && c.genOK && c.gen == g {
			return c.rules, c.s
		}
	}
	r := f.policy.Rules(f.name)
	return r, f.compile(r, g)
}

// compile returns the settings for r, compiled once per *Rules, and records g as the
// generation they were read at when the Policy has one.
func (f *Func[K, V]) compile(r *Rules, g uint64) *settings {
	for {
		old := f.pol.Load()
		var s *settings
		switch {
		case r == nil:
			s = f.base
		case old != nil && old.rules == r:
			s = old.s
		}
		if s != nil && (f.gen == nil || old != nil && old.rules == r && old.genOK && old.gen == g) {
			return s
		}
		if s == nil {
			cfg := f.cfg
			for _, o := range r.Options {
				o(&cfg)
			}
			s = resolve(&cfg, f.name, f.c.cfg.bus != nil, r)
		}
		// One settings per Rules: entries are matched to their rules by its address, so
		// two goroutines compiling the same Rules must agree on one.
		static := r == nil || (!r.Bypass && r.Decide == nil)
		if f.pol.CompareAndSwap(old, &compiled{rules: r, s: s, gen: g, genOK: f.gen != nil, static: static}) {
			return s
		}
	}
}

// policyFailed applies the Fallback to a Policy failure: done means v and err are the
// answer; otherwise the call goes on as if there were no Policy.
func (f *Func[K, V]) policyFailed(k K, err error) (v V, _ error, done bool) {
	s := f.base
	err = plugErr(ErrPolicy, f.name, "decide", "", err)
	f.fail(s, PolicyError, err)
	switch s.fallback {
	case FailClosed:
		return v, err, true
	case FailStale:
		if f.local != nil {
			if e, ok := f.local.get(k); ok && f.c.clk.NowNano() < e.sie {
				f.count(s, StaleServed)
				return e.val, e.err, true
			}
		}
	}
	return v, nil, false
}

// argKey returns the argument part of k's key.
func (f *Func[K, V]) argKey(k K, rt route) (string, error) {
	if rt.hasArg {
		return rt.arg, nil
	}
	return f.args.enc(k)
}

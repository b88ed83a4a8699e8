package cached

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
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

// compiled caches the settings compiled from one *Rules.
type compiled struct {
	rules *Rules
	s     *settings
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
	if f.policy != nil {
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
	r := f.policy.Rules(f.name)
	if r == nil {
		return f.base, route{}, nil
	}
	s := f.compile(r)
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

func (f *Func[K, V]) compile(r *Rules) *settings {
	for {
		old := f.pol.Load()
		if old != nil && old.rules == r {
			return old.s
		}
		cfg := f.cfg
		for _, o := range r.Options {
			o(&cfg)
		}
		s := resolve(&cfg, f.name, f.c.cfg.bus != nil, r)
		// One settings per Rules: entries are matched to their rules by its address, so
		// two goroutines compiling the same Rules must agree on one.
		if f.pol.CompareAndSwap(old, &compiled{rules: r, s: s}) {
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

// Invalidate drops k from the in-process tier and the Store and tells the other instances
// on the Bus. A load of k in flight when Invalidate is called still answers its own
// callers but is not stored. The error, if any, wraps [ErrStore], [ErrBus] or
// [ErrPolicy]; the in-process tier is dropped whatever it says. When the Policy fails
// the key in the Store is unknown: only the in-process tier is dropped.
func (f *Func[K, V]) Invalidate(ctx context.Context, k K) error {
	s, rt, err := f.routeWrite(ctx, k)
	return f.invalidate(ctx, k, s, rt, err)
}

// invalidate is Invalidate once the Policy has been asked; perr is its failure.
func (f *Func[K, V]) invalidate(ctx context.Context, k K, s *settings, rt route, perr error) error {
	f.drop(k)
	if perr != nil {
		return perr
	}
	err := f.propagate(ctx, s, k, rt, nil)
	if s.store != nil {
		// Drop again: a caller that missed in between may have read the old value
		// back from the Store before propagate deleted it.
		f.drop(k)
	}
	return err
}

// drop removes k from the in-process tier and supersedes its flight.
func (f *Func[K, V]) drop(k K) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.supersede(k)
	if f.local != nil {
		f.local.del(k)
	}
}

// Put stores v as k's value, as if the loader had returned it, replacing a cached
// not-found result, and tells the other instances on the Bus. A load of k in flight when
// Put is called still answers its own callers but is not stored over v. The error, if
// any, wraps [ErrCodec], [ErrStore], [ErrBus] or [ErrPolicy]; the in-process tier holds v
// whatever it says. When the Policy fails the key in the Store is unknown: only the
// in-process tier is written.
func (f *Func[K, V]) Put(ctx context.Context, k K, v V) error {
	s, rt, perr := f.routeWrite(ctx, k)
	arg, err := f.argKey(k, rt)
	if err != nil {
		f.drop(k)
		return errors.Join(perr, plugErr(ErrCodec, f.name, "key", "", err))
	}
	l, keep := f.lifeFor(ctx, s, k, arg, v)
	if !keep {
		return f.invalidate(ctx, k, s, rt, perr)
	}
	e, l := f.newEntry(s, v, nil, l, 0)
	f.mu.Lock()
	f.supersede(k)
	if f.local != nil {
		f.local.set(k, e)
	}
	f.mu.Unlock()
	if perr != nil {
		return perr
	}
	if s.guard != nil {
		s.guard.Add(arg)
	}
	return f.propagate(ctx, s, k, rt, &putItem[V]{v: v, life: l})
}

type putItem[V any] struct {
	v    V
	life life
}

// propagate writes a Put (or, with p nil, an Invalidate) to the Store and the Bus.
func (f *Func[K, V]) propagate(ctx context.Context, s *settings, k K, rt route, p *putItem[V]) error {
	if s.store == nil && f.c.cfg.bus == nil {
		return nil
	}
	arg, err := f.argKey(k, rt)
	if err != nil {
		return plugErr(ErrCodec, f.name, "key", "", err)
	}
	key := s.prefix + arg
	var errs []error
	if s.store != nil {
		if p == nil {
			if err := s.store.Delete(ctx, key); err != nil {
				errs = append(errs, f.storeFailed(s, "delete", key, err))
			}
		} else if it, err := f.item(s, p.v, nil, p.life.ttl, 0, 0); err != nil {
			errs = append(errs, plugErr(ErrCodec, f.name, "encode", key, err))
			f.fail(s, CodecError, errs[len(errs)-1])
		} else if err := s.store.Set(ctx, key, it, p.life.stored()); err != nil {
			errs = append(errs, f.storeFailed(s, "set", key, err))
		}
	}
	if err := f.c.publish(ctx, f.name, key); err != nil {
		err = plugErr(ErrBus, f.name, "publish", key, err)
		f.fail(s, BusError, err)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (f *Func[K, V]) storeFailed(s *settings, op, key string, err error) error {
	err = plugErr(ErrStore, f.name, op, key, err)
	f.fail(s, StoreError, err)
	return err
}

// routeWrite is route for Put, Invalidate and Refresh, which ignore bypass. When the
// Policy fails it still returns the settings of its Rules (so that the in-process entry is
// stored under the rules in force) with the error.
func (f *Func[K, V]) routeWrite(ctx context.Context, k K) (*settings, route, error) {
	if f.policy == nil {
		return f.base, route{}, nil
	}
	s, rt, err := f.route(ctx, k)
	if err != nil {
		err = plugErr(ErrPolicy, f.name, "decide", "", err)
		f.fail(s, PolicyError, err)
		return s, route{}, err
	}
	return s, rt, nil
}

// supersede stops the flight of k, if any, from storing its result, and lets the next
// caller start a new one. f.mu must be held.
func (f *Func[K, V]) supersede(k K) {
	if cl := f.flights[k]; cl != nil {
		cl.superseded = true
		delete(f.flights, k)
	}
}

// Refresh loads k now and stores the result, whatever is cached, and returns it. Callers
// of Get that arrive while it loads share its result; a load already in flight is
// superseded. When the Policy fails Refresh returns its error: the key to store under is
// unknown.
func (f *Func[K, V]) Refresh(ctx context.Context, k K) (V, error) {
	s, rt, err := f.routeWrite(ctx, k)
	if err != nil {
		var zero V
		return zero, err
	}
	if f.c.closed.Load() {
		return f.fn(ctx, k)
	}
	cl := &call[V]{done: make(chan struct{})}
	f.mu.Lock()
	f.supersede(k)
	f.flights[k] = cl
	f.mu.Unlock()
	f.count(s, Miss)
	f.start(ctx, &job[K, V]{k: k, s: s, rt: rt, cl: cl, force: true})
	return f.wait(ctx, cl)
}

// dropKey implements funcHandle.
func (f *Func[K, V]) dropKey(key string) {
	if f.policy != nil {
		if r := f.policy.Rules(f.name); r != nil && r.Decide != nil {
			// Decide may have replaced the argument part of the key: it cannot be read
			// back as an argument.
			f.dropAll()
			return
		}
	}
	// Skip namespace, name and version: an instance running another version of the
	// function changed the same entity.
	rest := key
	for range 3 {
		_, after, ok := strings.Cut(rest, ":")
		if !ok {
			f.dropAll()
			return
		}
		rest = after
	}
	if f.args.dec != nil {
		if k, ok := f.args.dec(rest); ok {
			f.drop(k)
			return
		}
	}
	f.dropAll()
}

// dropAll implements funcHandle.
func (f *Func[K, V]) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k := range f.flights {
		f.supersede(k)
	}
	if f.local != nil {
		f.local.clear()
	}
}

// count records an event.
func (f *Func[K, V]) count(s *settings, k EventKind) {
	f.stats.inc(k)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: k, Count: 1})
	}
}

// observe reports e to the Observer. An Observer that panics is a failing plug-in: the
// panic is logged, and the call it interrupted goes on (a flight must always end).
func (f *Func[K, V]) observe(s *settings, e Event) {
	defer func() {
		if p := recover(); p != nil {
			f.log(s, observerSlot, "observer_panic", "cached: observer panicked", fmt.Errorf("%v", p))
		}
	}()
	s.observer.Observe(e)
}

// reportEvictions hands the Observer the evictions counted since the last report, as one
// event whose Count says how many. The tier counts them under its own locks, where no user
// code may run, so they reach the Observer later, on the miss path.
func (f *Func[K, V]) reportEvictions(s *settings) {
	if s.observer == nil {
		return
	}
	n := f.stats.other[Eviction].Load()
	old := f.stats.evictionsSeen.Load()
	if old >= n || !f.stats.evictionsSeen.CompareAndSwap(old, n) {
		return
	}
	f.observe(s, Event{Func: f.name, Kind: Eviction, Count: n - old})
}

// fail records a plug-in failure and logs it, at most once a second per kind.
func (f *Func[K, V]) fail(s *settings, k EventKind, err error) {
	f.stats.inc(k)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: k, Err: err, Count: 1})
	}
	f.log(s, int(k), k.String(), "cached: plug-in failed", err)
}

// observerSlot is the logged slot of observer panics, after those of the event kinds.
const observerSlot = int(numKinds)

// log logs msg at most once a second per slot (an event kind, or observerSlot).
func (f *Func[K, V]) log(s *settings, slot int, event, msg string, err error) {
	if s.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := f.logged[slot].Load()
	if now-last < int64(time.Second) || !f.logged[slot].CompareAndSwap(last, now) {
		return
	}
	s.logger.Warn(msg, "func", f.name, "event", event, "err", err)
}

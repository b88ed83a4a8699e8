package cached

import (
	"context"
	"errors"
	"runtime/debug"
	"time"
)

// job is one flight's work.
type job[K comparable, V any] struct {
	k       K
	s       *settings
	rt      route
	stale   *entry[V] // an expired entry that may still be served (stale-if-error, FailStale)
	cl      *call[V]
	force   bool     // Refresh: load whatever the Store holds
	missKey string   // the key whose Store read was a miss: the write to it is a write-back
	wrote   bool     // the flight wrote (or deleted) missKey
	held    Unlocker // the Locker's lock on lockKey, released once the callers have their answer
	lockKey string
}

// result is what a flight answers, and the entry to keep in process, if any.
type result[V any] struct {
	val  V
	err  error
	e    *entry[V]
	drop bool // the answer must not be cached: drop what the tier holds for the key
}

// miss sends a call that found no fresh in-process value to k's flight, starting one if
// none is running, and waits for its answer or the end of ctx.
func (f *Func[K, V]) miss(ctx context.Context, k K, s *settings, rt route, stale *entry[V]) (V, error) {
	if f.c.closed.Load() {
		return f.fn(ctx, k)
	}
	if s.guard != nil {
		arg, err := f.argKey(k, rt)
		if err != nil {
			f.fail(s, CodecError, plugErr(ErrCodec, f.name, "key", "", err))
			return f.fn(ctx, k)
		}
		if !s.guard.MayExist(arg) {
			f.count(s, GuardReject)
			var zero V
			return zero, &notFoundError{name: f.name, err: s.notFoundErr}
		}
		rt.arg, rt.hasArg = arg, true
	}
	f.mu.Lock()
	if cl := f.flights[k]; cl != nil {
		f.mu.Unlock()
		f.count(s, Miss)
		f.count(s, Coalesced)
		return f.wait(ctx, cl)
	}
	// Check the tier again now that f.mu is held. Without this, a caller that missed just
	// before a flight of k finished would start a second load:
	//
	//	caller A: misses the tier
	//	flight:   stores the value, leaves f.flights, closes done
	//	caller A: takes f.mu, finds no flight, loads again
	//
	// The flight stores its value under f.mu before it leaves f.flights, so this check sees
	// it (eko/gocache #251 is the bug this prevents).
	if e := f.freshLocal(k, s); e != nil {
		f.mu.Unlock()
		return f.hit(s, e)
	}
	cl := &call[V]{done: make(chan struct{})}
	f.flights[k] = cl
	f.mu.Unlock()
	f.count(s, Miss)
	f.reportEvictions(s)
	f.start(ctx, &job[K, V]{k: k, s: s, rt: rt, stale: stale, cl: cl})
	return f.wait(ctx, cl)
}

// freshLocal returns k's in-process entry if it is fresh and was stored under s, else nil.
func (f *Func[K, V]) freshLocal(k K, s *settings) *entry[V] {
	if f.local == nil {
		return nil
	}
	if e, ok := f.local.get(k); ok && e.set == s && f.c.clk.NowNano() < e.fresh {
		return e
	}
	return nil
}

// refresh starts a background flight of k unless one is running. Its result goes to the
// in-process tier and to the callers that join it.
func (f *Func[K, V]) refresh(ctx context.Context, k K, s *settings, rt route, stale *entry[V]) {
	if f.c.closed.Load() {
		return
	}
	f.mu.Lock()
	if f.flights[k] != nil {
		f.mu.Unlock()
		return
	}
	cl := &call[V]{done: make(chan struct{})}
	f.flights[k] = cl
	f.mu.Unlock()
	f.count(s, Refresh)
	j := &job[K, V]{k: k, s: s, rt: rt, stale: stale, cl: cl}
	ctx = context.WithValue(ctx, backgroundKey{}, true)
	if !f.c.spawn(func() { f.run(ctx, j) }) {
		f.finish(j, result[V]{val: stale.val, err: stale.err})
	}
}

// start runs a flight: on the caller's goroutine when the caller cannot leave early (its
// context has no Done channel) or asked for it ([Inline]), else on a goroutine of the
// Cache, so that each caller, the first included, can return when its own context ends.
//
// Close does not wait for a flight on a caller's goroutine (its loader could be the one
// calling Close); its context is cancelled by Close all the same.
func (f *Func[K, V]) start(ctx context.Context, j *job[K, V]) {
	if isInline(ctx) || ctx.Done() == nil || !f.c.spawn(func() { f.run(ctx, j) }) {
		f.run(ctx, j)
	}
}

// Inline returns a copy of ctx under which a call that starts a flight runs the loader on
// the caller's own goroutine, and so waits for the load even if ctx ends first, as a call
// whose context cannot end does. A call that joins a flight already running still waits
// on ctx and may leave early. The load's context keeps ctx's values, not its
// cancellation, as always.
//
// It is for loaders that must run on the goroutine of the call that needs them: package
// middleware's loader runs the HTTP handler, which writes to that request's
// ResponseWriter when its response turns out not to be storable (a stream, a body too
// large to buffer). [IsBackground] tells such a loader when no caller's goroutine is
// running it.
func Inline(ctx context.Context) context.Context {
	return context.WithValue(ctx, inlineKey{}, true)
}

func isInline(ctx context.Context) bool {
	v, _ := ctx.Value(inlineKey{}).(bool)
	return v
}

// IsBackground reports whether ctx is the context of a load that no caller started: a
// background refresh begun by [StaleWhileRevalidate] or [EarlyRefresh], which runs on a
// goroutine of the Cache while the caller that triggered it has already been answered
// (callers that arrive later may join it). Its values are still that caller's.
func IsBackground(ctx context.Context) bool {
	v, _ := ctx.Value(backgroundKey{}).(bool)
	return v
}

type (
	inlineKey     struct{}
	backgroundKey struct{}
)

// wait returns the flight's answer, or ctx.Err() if ctx ends first.
func (f *Func[K, V]) wait(ctx context.Context, cl *call[V]) (V, error) {
	select {
	case <-cl.done: // done already (an inline flight): no need to ask ctx for a channel
		return cl.val, cl.err
	default:
	}
	select {
	case <-cl.done:
		return cl.val, cl.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}

// run produces a flight's result and hands it to the flight's callers. Whatever happens
// (a plug-in panics, say), the flight ends and its callers are answered.
func (f *Func[K, V]) run(ctx context.Context, j *job[K, V]) {
	var r result[V]
	defer func() {
		if p := recover(); p != nil {
			r = result[V]{err: &PanicError{Func: f.name, Value: p, Stack: debug.Stack()}}
			f.fail(j.s, LoadError, r.err)
		}
		f.finish(j, r)
		if j.held != nil {
			// The value is in the Store: release the lock now, after the callers have
			// their answer, so that they do not wait for the Locker's round trip.
			if !f.c.spawn(func() { f.unlock(j) }) {
				f.unlock(j)
			}
		}
	}()
	lctx, cancel := f.loadContext(ctx, j.s)
	defer cancel()
	r = f.produce(lctx, j)
	if j.missKey != "" && !j.wrote {
		if rl, ok := j.s.store.(Releaser); ok {
			rl.Release(lctx, j.missKey)
		}
	}
}

// loadContext detaches a load from the cancellation of the caller that started it,
// keeping its values: one caller leaving must not fail the others (x/sync/singleflight
// runs the load on the first caller's context, which does). LoadTimeout bounds it, and
// Close cancels it.
func (f *Func[K, V]) loadContext(ctx context.Context, s *settings) (context.Context, context.CancelFunc) {
	lctx := context.WithoutCancel(ctx)
	var cancel context.CancelFunc
	if s.loadTimeout > 0 {
		lctx, cancel = context.WithTimeout(lctx, s.loadTimeout)
	} else {
		lctx, cancel = context.WithCancel(lctx)
	}
	stop := context.AfterFunc(f.c.ctx, cancel)
	return lctx, func() {
		stop()
		cancel()
	}
}

// finish stores the result in process, unless the flight was superseded, ends the flight
// and wakes its callers. The entry is in the tier before the flight leaves f.flights, so
// a call right after this one hits.
func (f *Func[K, V]) finish(j *job[K, V], r result[V]) {
	f.mu.Lock()
	if f.local != nil && !j.cl.superseded {
		if r.e != nil {
			f.local.set(j.k, r.e)
		} else if r.drop {
			f.local.del(j.k)
		}
	}
	if f.flights[j.k] == j.cl {
		delete(f.flights, j.k)
	}
	j.cl.val, j.cl.err = r.val, r.err
	f.mu.Unlock()
	close(j.cl.done)
}

func (f *Func[K, V]) superseded(cl *call[V]) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return cl.superseded
}

// produce is a flight's work: the Store, the Locker and its double check, the loader, and
// the write back.
func (f *Func[K, V]) produce(ctx context.Context, j *job[K, V]) result[V] {
	s := j.s
	var key string
	useStore := s.store != nil
	if s.store != nil || s.locker != nil {
		arg, err := f.argKey(j.k, j.rt)
		if err != nil {
			f.fail(s, CodecError, plugErr(ErrCodec, f.name, "key", "", err))
			return f.load(ctx, j, "", false, 0)
		}
		j.rt.arg, j.rt.hasArg = arg, true
		key = s.prefix + arg
	}
	if useStore && !j.force {
		e, fresh, err := f.read(ctx, s, key)
		switch {
		case err != nil:
			useStore = false // do not pay its timeout twice
			if r, ok := f.fallback(j, j.s.fallback, f.storeFailed(s, "get", key, err), false); ok {
				return r
			}
		case fresh:
			f.count(s, Hit)
			return result[V]{val: e.val, err: e.err, e: e}
		case e != nil && j.stale == nil:
			j.stale = e
		}
		if err == nil && !fresh {
			j.missKey = key
		}
	}
	var fence uint64
	if s.locker != nil {
		u, err := f.lock(ctx, s, key)
		if err == nil {
			j.held, j.lockKey = u, key
			fence = u.Fence()
		}
		// The double check, also after a LockTimeout: another instance may have loaded the
		// key while this one waited for the lock.
		waited := err == nil || (errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil)
		if waited && useStore && !j.force {
			e, fresh, rerr := f.read(ctx, s, key)
			if rerr != nil {
				useStore = false
				f.storeFailed(s, "get", key, rerr)
			} else if fresh {
				f.count(s, Hit)
				return result[V]{val: e.val, err: e.err, e: e}
			} else if e != nil && j.stale == nil {
				j.stale = e
			}
		}
		if err != nil {
			err = plugErr(ErrLock, f.name, "lock", key, err)
			f.fail(s, LockError, err)
			// Stale here answers "do not wait longer", not an error: either window will do.
			if r, ok := f.fallback(j, s.lockFallback, err, true); ok {
				return r
			}
		}
	}
	return f.load(ctx, j, key, useStore, fence)
}

// lock takes the Locker's lock on key, waiting at most LockTimeout.
func (f *Func[K, V]) lock(ctx context.Context, s *settings, key string) (u Unlocker, err error) {
	if s.lockTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.lockTimeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			u, err = nil, &PanicError{Func: f.name, Value: p, Stack: debug.Stack()}
		}
	}()
	u, err = s.locker.Lock(ctx, key)
	if err == nil && u == nil {
		err = errors.New("Locker returned neither a lock nor an error")
	}
	return u, err
}

// unlock releases the flight's lock. A failure (the lock was lost meanwhile, say) is
// counted and logged; the callers have their answer already.
func (f *Func[K, V]) unlock(j *job[K, V]) {
	ctx, cancel := context.WithTimeout(context.Background(), unlockTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			f.fail(j.s, LockError, &PanicError{Func: f.name, Value: p, Stack: debug.Stack()})
		}
	}()
	if err := j.held.Unlock(ctx); err != nil {
		f.fail(j.s, LockError, plugErr(ErrLock, f.name, "unlock", j.lockKey, err))
	}
}

// unlockTimeout bounds an Unlock: a Locker that cannot reach its server must not keep the
// Cache's goroutine (and Close) waiting.
const unlockTimeout = 5 * time.Second

// fallback applies fb to a plug-in failure: ok means r is the answer. A stale entry may
// answer within StaleIfError, or, with anyWindow, within either stale window.
func (f *Func[K, V]) fallback(j *job[K, V], fb Fallback, err error, anyWindow bool) (r result[V], ok bool) {
	switch fb {
	case FailClosed:
		return result[V]{err: err}, true
	case FailStale:
		st := j.stale
		if st == nil {
			break
		}
		until := st.sie
		if anyWindow {
			until = max(st.swr, st.sie)
		}
		if f.c.clk.NowNano() < until {
			f.count(j.s, StaleServed)
			return result[V]{val: st.val, err: st.err}, true
		}
	}
	return r, false
}

// load calls the loader and settles its result.
func (f *Func[K, V]) load(ctx context.Context, j *job[K, V], key string, useStore bool, fence uint64) result[V] {
	start := time.Now()
	v, err, panicked := f.callLoader(ctx, j.k)
	return f.settle(ctx, j, key, useStore, fence, v, err, panicked, time.Since(start))
}

// settle turns what the loader returned for j's key into the flight's result: a value to
// keep (and write to the Store), a not-found result to keep for NegativeTTL, or an error,
// answered from the stale entry within StaleIfError. delta is how long the load took.
func (f *Func[K, V]) settle(ctx context.Context, j *job[K, V], key string, useStore bool, fence uint64,
	v V, err error, panicked bool, delta time.Duration) result[V] {
	s := j.s
	kind := Load
	if err != nil && (panicked || !s.isNotFound(err)) {
		kind = LoadError
	}
	f.stats.inc(kind)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: kind, Duration: delta, Err: err, Count: 1})
	}
	useStore = useStore && key != ""
	switch {
	case err == nil:
		if s.guard != nil {
			if !j.rt.hasArg { // a Refresh, with no Store or Locker, has not built it yet
				if arg, err := f.argKey(j.k, j.rt); err == nil {
					j.rt.arg, j.rt.hasArg = arg, true
				}
			}
			if j.rt.hasArg {
				s.guard.Add(j.rt.arg)
			}
		}
		if !j.rt.hasArg && s.rules != nil && s.rules.TTL != nil {
			// The Policy's TTL hook is told the key: build it if nothing has yet.
			if arg, err := f.argKey(j.k, j.rt); err == nil {
				j.rt.arg, j.rt.hasArg = arg, true
			}
		}
		l, keep := f.lifeFor(ctx, s, j.k, j.rt.arg, v)
		if !keep {
			// Not to be cached: neither may the value it replaces be served any more.
			if useStore {
				f.unstore(ctx, j, key)
			}
			return result[V]{val: v, drop: true}
		}
		e, l := f.newEntry(s, v, nil, l, delta)
		if useStore {
			f.write(ctx, j, key, v, nil, l, delta, fence)
		}
		return result[V]{val: v, e: e}
	case kind == Load: // not found
		if s.negTTL == 0 {
			if useStore {
				f.unstore(ctx, j, key)
			}
			return result[V]{err: err, drop: true}
		}
		var zero V
		e, l := f.newEntry(s, zero, &notFoundError{name: f.name, err: err}, f.windows(s, zero, true), delta)
		if useStore {
			f.write(ctx, j, key, zero, err, l, delta, fence)
		}
		return result[V]{err: err, e: e}
	}
	if !panicked && j.stale != nil && f.c.clk.NowNano() < j.stale.sie {
		f.count(s, StaleServed)
		return result[V]{val: j.stale.val, err: j.stale.err}
	}
	return result[V]{err: err}
}

// callLoader calls the loader, turning a panic into a *PanicError.
func (f *Func[K, V]) callLoader(ctx context.Context, k K) (v V, err error, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			err, panicked = &PanicError{Func: f.name, Value: p, Stack: debug.Stack()}, true
		}
	}()
	v, err = f.fn(ctx, k)
	return v, err, false
}

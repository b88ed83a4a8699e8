package cached

import (
	"context"
	"errors"
	"slices"
	"time"
)

// WrapBatch returns a batch function with a cache around it: given keys, it answers the
// ones cached (in process or in the Store) at once and calls fn once with only the
// missing ones, then merges the results. Keys fn leaves out of its map do not exist: they
// are cached as not-found results for [NegativeTTL] and left out of the result too. Keys
// another call is loading already are shared, not loaded twice. Duplicate keys are asked
// for once.
//
// fn's error is returned unchanged (with a nil map) and not cached; keys it covered with a
// stale value within [StaleIfError] are answered from it instead. A batch function uses
// a Policy's Rules.Options and Rules.Bypass but not Rules.Decide, and takes no distributed
// lock: a [Locker] guards single-key loads only.
func WrapBatch[K comparable, V any](c *Cache, name string, fn func(context.Context, []K) (map[K]V, error), opts ...Option) func(context.Context, []K) (map[K]V, error) {
	if fn == nil {
		panic("cached: WrapBatch(" + name + "): nil function")
	}
	one := func(ctx context.Context, k K) (V, error) {
		m, err := fn(ctx, []K{k})
		if err != nil {
			var zero V
			return zero, err
		}
		v, ok := m[k]
		if !ok {
			return v, ErrNotFound
		}
		return v, nil
	}
	return NewFunc(c, name, one, opts...).Batch(fn)
}

// Batch returns a batch form of f with fn as its batch loader, as [WrapBatch] does, but
// sharing f's entries, flights, counters and invalidations: a key loaded by one form is a
// hit for the other, and f.Invalidate and f.Put reach both. fn must answer the same keys
// as f's loader does, many at a time; the rules of WrapBatch apply to the batch form. A
// Policy's Rules.Decide does not apply to it: with one, the batch form's keys are not the
// ones Get, Put and Invalidate use.
//
// Batch panics if fn is nil.
func (f *Func[K, V]) Batch(fn func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	if fn == nil {
		panic("cached: Batch(" + f.name + "): nil function")
	}
	return func(ctx context.Context, keys []K) (map[K]V, error) { return f.getMany(ctx, keys, fn) }
}

// getMany is the batch form of Get.
func (f *Func[K, V]) getMany(ctx context.Context, keys []K, fn func(context.Context, []K) (map[K]V, error)) (map[K]V, error) {
	s := f.base
	if f.policy != nil {
		var r *Rules
		if r, s = f.rules(); r != nil {
			if r.Bypass {
				f.count(s, Bypass)
				return fn(ctx, keys)
			}
		}
	}
	out := make(map[K]V, len(keys))
	seen := make(map[K]bool, len(keys))
	var missing []K
	stale := make(map[K]*entry[V])
	for _, k := range keys {
		if seen[k] {
			continue
		}
		seen[k] = true
		if f.local != nil {
			if e, ok := f.local.get(k); ok && e.set == s {
				now := f.c.clk.NowNano()
				if now < e.fresh || now < e.swr {
					if now < e.fresh {
						f.hit(s, e)
					} else {
						f.count(s, StaleServed)
						f.refresh(ctx, k, s, route{}, e)
					}
					if e.err == nil {
						out[k] = e.val
					}
					continue
				}
				stale[k] = e
			}
		}
		missing = append(missing, k)
	}
	if len(missing) == 0 {
		return out, nil
	}
	if f.c.closed.Load() {
		return f.direct(ctx, out, missing, fn)
	}
	if s.guard != nil {
		kept := missing[:0]
		for _, k := range missing {
			arg, err := f.args.enc(k)
			if err == nil && !s.guard.MayExist(arg) {
				f.count(s, GuardReject)
				continue
			}
			kept = append(kept, k)
		}
		missing = kept
	}

	// Join the flights already running; start one flight per remaining key, all loaded by
	// one call of fn.
	var waits []*call[V]
	var waitKeys []K
	var jobs []*job[K, V]
	var hits []*entry[V]
	joined := 0
	f.mu.Lock()
	for _, k := range missing {
		if cl := f.flights[k]; cl != nil {
			joined++
			waits, waitKeys = append(waits, cl), append(waitKeys, k)
			continue
		}
		if e := f.freshLocal(k, s); e != nil { // the double check of miss
			hits = append(hits, e)
			if e.err == nil {
				out[k] = e.val
			}
			continue
		}
		cl := &call[V]{done: make(chan struct{})}
		f.flights[k] = cl
		jobs = append(jobs, &job[K, V]{k: k, s: s, stale: stale[k], cl: cl})
		waits, waitKeys = append(waits, cl), append(waitKeys, k)
	}
	f.mu.Unlock()
	// Counted once f.mu is released: the Observer is user code.
	for _, e := range hits {
		f.hit(s, e)
	}
	for range joined + len(jobs) {
		f.count(s, Miss)
	}
	for range joined {
		f.count(s, Coalesced)
	}
	f.reportEvictions(s)
	if len(jobs) > 0 {
		run := func() { f.runBatch(ctx, s, jobs, fn) }
		if ctx.Done() == nil || !f.c.spawn(run) {
			run()
		}
	}
	for i, cl := range waits {
		v, err := f.wait(ctx, cl)
		switch {
		case err == nil:
			out[waitKeys[i]] = v
		case errors.Is(err, ErrNotFound) || s.isNotFound(err):
		default:
			return nil, err
		}
	}
	return out, nil
}

// direct calls fn for keys, uncached, and merges its answer into out.
func (f *Func[K, V]) direct(ctx context.Context, out map[K]V, keys []K, fn func(context.Context, []K) (map[K]V, error)) (map[K]V, error) {
	m, err := fn(ctx, keys)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// runBatch is produce and finish for the flights of a batch: one Store read (a multi-get
// when the Store has one) and one call of fn for what the Store lacks.
func (f *Func[K, V]) runBatch(ctx context.Context, s *settings, jobs []*job[K, V], fn func(context.Context, []K) (map[K]V, error)) {
	results := make([]result[V], len(jobs))
	done := 0 // jobs[:done] are finished
	defer func() {
		if p := recover(); p != nil {
			err := &PanicError{Func: f.name, Value: p}
			f.fail(s, LoadError, err)
			for i := done; i < len(jobs); i++ {
				f.finish(jobs[i], result[V]{err: err})
			}
		}
	}()
	lctx, cancel := f.loadContext(ctx, s)
	defer cancel()

	keys := make([]string, len(jobs))
	for i, j := range jobs {
		arg, err := f.args.enc(j.k)
		if err != nil {
			f.fail(s, CodecError, plugErr(ErrCodec, f.name, "key", "", err))
		}
		j.rt = route{arg: arg, hasArg: err == nil}
		if err == nil {
			keys[i] = s.prefix + arg
		} // else "": neither read nor written, since it would name another key
	}
	pending := make([]int, 0, len(jobs)) // indexes of jobs still to load
	var items map[string]Item
	var storeErr error
	useStore := s.store != nil
	if useStore {
		var err error
		if items, err = f.readMany(lctx, s, keys); err != nil {
			useStore = false // do not pay its timeout twice
			storeErr = f.storeFailed(s, "get", keys[0], err)
		}
	}
	for i, j := range jobs {
		if storeErr != nil {
			if r, ok := f.fallback(j, j.s.fallback, storeErr, false); ok {
				results[i] = r
				continue
			}
		}
		if it, ok := items[keys[i]]; ok && keys[i] != "" {
			e, fresh := f.decode(lctx, s, keys[i], it)
			if fresh {
				f.count(s, Hit)
				results[i] = result[V]{val: e.val, err: e.err, e: e}
				continue
			}
			if e != nil && j.stale == nil {
				j.stale = e
			}
		}
		pending = append(pending, i)
	}
	if len(pending) > 0 {
		ks := make([]K, len(pending))
		for n, i := range pending {
			ks[n] = jobs[i].k
		}
		start := time.Now()
		m, err := callBatch(lctx, fn, ks)
		delta := time.Since(start)
		var pe *PanicError
		panicked := errors.As(err, &pe)
		if panicked {
			pe.Func = f.name
		}
		for _, i := range pending {
			j := jobs[i]
			v, ok := m[j.k]
			lerr := err
			if err == nil && !ok {
				lerr = &notFoundError{name: f.name, err: s.notFoundErr}
			}
			results[i] = f.settle(lctx, j, keys[i], useStore && j.rt.hasArg, 0, v, lerr, panicked, delta)
		}
	}
	f.finishAll(jobs, results, &done)
}

func (f *Func[K, V]) finishAll(jobs []*job[K, V], results []result[V], done *int) {
	for ; *done < len(jobs); *done++ {
		f.finish(jobs[*done], results[*done])
	}
}

// callBatch calls fn, turning a panic into a *PanicError.
func callBatch[K comparable, V any](ctx context.Context, fn func(context.Context, []K) (map[K]V, error), keys []K) (m map[K]V, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &PanicError{Value: p}
		}
	}()
	return fn(ctx, keys)
}

// readMany reads keys from the Store, in one round trip when it is a MultiGetter.
func (f *Func[K, V]) readMany(ctx context.Context, s *settings, keys []string) (map[string]Item, error) {
	keys = slices.DeleteFunc(slices.Clone(keys), func(k string) bool { return k == "" })
	if len(keys) == 0 {
		return nil, nil
	}
	if mg, ok := s.store.(MultiGetter); ok {
		return mg.GetMulti(ctx, keys)
	}
	items := make(map[string]Item, len(keys))
	for _, key := range keys {
		it, ok, err := s.store.Get(ctx, key)
		if err != nil {
			return items, err
		}
		if ok {
			items[key] = it
		}
	}
	return items, nil
}

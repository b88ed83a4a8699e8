package cached

import (
	"context"
	"errors"
	"strings"
)

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
	if gw, ok := s.guard.(GuardWriter); ok {
		gw.Written(arg)
	} else if s.guard != nil {
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
		if r, _ := f.rules(); r != nil && r.Decide != nil {
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

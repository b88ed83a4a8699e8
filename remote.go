package cached

import (
	"context"
	"time"
)

// read reads key from the Store and returns it as an in-process entry, and whether it is
// still fresh.
func (f *Func[K, V]) read(ctx context.Context, s *settings, key string) (e *entry[V], fresh bool, err error) {
	it, ok, err := s.store.Get(ctx, key)
	if err != nil || !ok {
		return nil, false, err
	}
	e, fresh = f.decode(ctx, s, key, it)
	return e, fresh, nil
}

// decode turns a Store item into an in-process entry. A value the Codec cannot decode is
// a miss (nil): it is counted, logged and deleted, so that it does not stay until it
// expires.
func (f *Func[K, V]) decode(ctx context.Context, s *settings, key string, it Item) (e *entry[V], fresh bool) {
	var v V
	var nerr error
	if it.Negative {
		nerr = &notFoundError{name: f.name, err: s.notFoundErr}
	} else if err := s.codec.Unmarshal(it.Value, &v); err != nil {
		f.fail(s, CodecError, plugErr(ErrCodec, f.name, "decode", key, err))
		if err := s.store.Delete(ctx, key); err != nil {
			f.storeFailed(s, "delete", key, err)
		}
		return nil, false
	}
	l := f.windows(s, v, it.Negative)
	l.ttl = time.Until(it.Fresh)
	return f.entryFor(s, v, nerr, l, it.Delta), l.ttl > 0
}

// write stores a flight's result in the Store, unless an Invalidate or Put superseded the
// flight. If one supersedes it while the write is on its way, the write is undone: the
// newer state wins, at the price of one more load.
func (f *Func[K, V]) write(ctx context.Context, j *job[K, V], key string, v V, nerr error, l life, delta time.Duration, fence uint64) {
	s := j.s
	if f.superseded(j.cl) {
		return
	}
	if key == j.missKey {
		j.wrote = true
		ctx = context.WithValue(ctx, writeBackKey{}, true)
	}
	it, err := f.item(s, v, nerr, l.ttl, delta, fence)
	if err != nil {
		f.fail(s, CodecError, plugErr(ErrCodec, f.name, "encode", key, err))
		return
	}
	if err := s.store.Set(ctx, key, it, l.stored()); err != nil {
		f.storeFailed(s, "set", key, err)
		return
	}
	if f.superseded(j.cl) {
		if err := s.store.Delete(ctx, key); err != nil {
			f.storeFailed(s, "delete", key, err)
		}
	}
}

// unstore deletes key from the Store, unless the flight was superseded (a newer Put may
// have written it): a result that must not be cached replaces the value stored before.
func (f *Func[K, V]) unstore(ctx context.Context, j *job[K, V], key string) {
	if f.superseded(j.cl) {
		return
	}
	if key == j.missKey {
		j.wrote = true // the delete ends the lease too
	}
	if err := j.s.store.Delete(ctx, key); err != nil {
		f.storeFailed(j.s, "delete", key, err)
	}
}

// item builds the Store item for a value (or, with nerr set, a not-found result) fresh for
// ttl from now.
func (f *Func[K, V]) item(s *settings, v V, nerr error, ttl, delta time.Duration, fence uint64) (Item, error) {
	now := time.Now()
	it := Item{Negative: nerr != nil, Written: now, Fresh: now.Add(ttl), Delta: delta, Fence: fence}
	if nerr == nil {
		b, err := s.codec.Marshal(v)
		if err != nil {
			return Item{}, err
		}
		it.Value = b
	}
	return it, nil
}

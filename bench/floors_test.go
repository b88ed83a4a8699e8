package bench

import (
	"context"
	"sync"
)

// The floors are the least a read can cost: a map lookup, with no TTL, no bound and no
// coalescing. On a miss they load and store without coalescing, so that they can be
// preloaded as the caches are; BenchmarkStorm leaves them out.

// syncMapContender is a sync.Map Load.
func syncMapContender() contender {
	return contender{name: "syncmap", open: func(load loadFunc) (getFunc, func() error) {
		var m sync.Map
		get := func(ctx context.Context, id int64) (*User, error) {
			if v, ok := m.Load(id); ok {
				return v.(*User), nil
			}
			u, err := load(ctx, id)
			if err != nil {
				return nil, err
			}
			m.Store(id, u)
			return u, nil
		}
		return get, func() error { return nil }
	}}
}

// rwMap is a map under a read-write mutex.
type rwMap struct {
	load loadFunc

	mu sync.RWMutex // protects m
	m  map[int64]*User
}

func (r *rwMap) get(ctx context.Context, id int64) (*User, error) {
	r.mu.RLock()
	u, ok := r.m[id]
	r.mu.RUnlock()
	if ok {
		return u, nil
	}
	u, err := r.load(ctx, id) // Not under the lock: user code never runs under our locks.
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.m[id] = u
	r.mu.Unlock()
	return u, nil
}

// mutexMapContender is a map under a sync.RWMutex.
func mutexMapContender() contender {
	return contender{name: "mutexmap", open: func(load loadFunc) (getFunc, func() error) {
		r := &rwMap{load: load, m: make(map[int64]*User)}
		return r.get, func() error { return nil }
	}}
}

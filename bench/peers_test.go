package bench

import (
	"context"
	"strconv"
	"sync"

	"github.com/maypok86/otter/v2"
	"github.com/viccon/sturdyc"
	"github.com/zeromicro/go-zero/core/collection"
	"golang.org/x/sync/singleflight"
)

// otterContender is otter v2's read-through Get, bounded by size, with entries that expire
// ttl after they are written.
func otterContender() contender {
	return contender{name: "otter", coalesces: true, open: func(load loadFunc) (getFunc, func() error) {
		c := otter.Must(&otter.Options[int64, *User]{
			MaximumSize:      capacity,
			ExpiryCalculator: otter.ExpiryWriting[int64, *User](ttl),
		})
		// Converted once: converting per call would allocate the Loader interface.
		loader := otter.LoaderFunc[int64, *User](load)
		get := func(ctx context.Context, id int64) (*User, error) {
			return c.Get(ctx, id, loader)
		}
		return get, func() error {
			c.StopAllGoroutines()
			return nil
		}
	}}
}

// sturdycContender is sturdyc's GetOrFetch, with the settings of its README (10 shards,
// evict 10% when full).
//
// sturdyc has no Close: the goroutine that New starts for its evictions outlives the
// benchmark.
func sturdycContender() contender {
	return contender{name: "sturdyc", coalesces: true, open: func(load loadFunc) (getFunc, func() error) {
		c := sturdyc.New[*User](capacity, 10, ttl, 10)
		get := func(ctx context.Context, id int64) (*User, error) {
			// sturdyc keys are strings, and its FetchFn takes no key: formatting the key
			// and the closure over id are part of what a get costs with it. One client
			// caches one type, so the key needs no prefix.
			return sturdyc.GetOrFetch(ctx, c, strconv.FormatInt(id, 10), func(ctx context.Context) (*User, error) {
				return load(ctx, id)
			})
		}
		return get, func() error { return nil }
	}}
}

// gozeroContender is go-zero's collection.Cache Take, limited to capacity entries.
//
// collection.Cache has no Close: its timing wheel and its statistics goroutine outlive the
// benchmark. Its fetch takes no context; the closure passes on the caller's.
func gozeroContender() contender {
	return contender{name: "gozero", coalesces: true, open: func(load loadFunc) (getFunc, func() error) {
		c, err := collection.NewCache(ttl, collection.WithLimit(capacity))
		if err != nil {
			panic(err) // NewCache fails only for a bad timing wheel, which is a constant.
		}
		get := func(ctx context.Context, id int64) (*User, error) {
			// Keys are strings, as for sturdyc; values come back as any.
			v, err := c.Take(strconv.FormatInt(id, 10), func() (any, error) {
				return load(ctx, id)
			})
			if err != nil {
				return nil, err
			}
			return v.(*User), nil
		}
		return get, func() error { return nil }
	}}
}

// sfMap is what one writes without a cache library: a map under a read-write mutex, and
// x/sync/singleflight to coalesce misses. It has no TTL and no bound.
type sfMap struct {
	load  loadFunc
	group singleflight.Group

	mu sync.RWMutex // protects m
	m  map[int64]*User
}

func (s *sfMap) get(ctx context.Context, id int64) (*User, error) {
	s.mu.RLock()
	u, ok := s.m[id]
	s.mu.RUnlock()
	if ok {
		return u, nil
	}
	v, err, _ := s.group.Do(strconv.FormatInt(id, 10), func() (any, error) {
		// Check the map again, as groupcache does: two gets may both miss above, and the
		// first one's flight may end, and store u, before the second one calls Do, which
		// would then start a second flight and load again.
		s.mu.RLock()
		u, ok := s.m[id]
		s.mu.RUnlock()
		if ok {
			return u, nil
		}
		u, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.m[id] = u
		s.mu.Unlock()
		return u, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*User), nil
}

func singleflightMapContender() contender {
	return contender{name: "singleflight-map", coalesces: true, open: func(load loadFunc) (getFunc, func() error) {
		s := &sfMap{load: load, m: make(map[int64]*User)}
		return s.get, func() error { return nil }
	}}
}

package bench

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// BenchmarkMemcachedHit reads a key held by one real memcached server (started by the
// benchmark on a loopback port):
//   - raw: gomemcache's Client.Get of the value's bytes (the floor: one round trip);
//   - store: memcached.Store.Get (safe key, breaker, envelope decode);
//   - engine: cached.Wrap over the store with the in-process tier off, so every call is a
//     memcached hit, JSON-decoded into a User.
//
// Both clients keep 64 idle connections per server, so that parallel runs compare the
// same pool.
func BenchmarkMemcachedHit(b *testing.B) {
	srv := memcachedtest.Start(b)
	ctx := context.Background()
	payload, _ := json.Marshal(want(ids[0]))
	raw := memcache.New(srv.Addr)
	raw.MaxIdleConns = memcached.DefaultMaxIdleConns
	defer raw.Close()
	raw.Set(&memcache.Item{Key: "raw", Value: payload})
	st := memcached.New([]string{srv.Addr})
	defer st.Close()
	c := cached.New(cached.WithStore(st), cached.LocalSize(0))
	defer c.Close()
	get := cached.Wrap(c, "user", func(_ context.Context, id int64) (*User, error) { return want(id), nil })
	get(ctx, ids[0])
	key := ":user::" + strconv.FormatInt(ids[0], 10)

	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"raw", func() error { _, err := raw.Get("raw"); return err }},
		{"store", func() error { _, _, err := st.Get(ctx, key); return err }},
		{"engine", func() error { _, err := get(ctx, ids[0]); return err }},
	} {
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := tc.op(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := tc.op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkMemcachedGetMulti100 reads 100 keys held by memcached: raw gomemcache GetMulti
// against a WrapBatch function with the in-process tier off (one multi-get, no loads).
func BenchmarkMemcachedGetMulti100(b *testing.B) {
	srv := memcachedtest.Start(b)
	ctx := context.Background()
	keys := ids[:100]
	raw := memcache.New(srv.Addr)
	raw.MaxIdleConns = memcached.DefaultMaxIdleConns
	defer raw.Close()
	rawKeys := make([]string, len(keys))
	for i, id := range keys {
		rawKeys[i] = "raw" + strconv.FormatInt(id, 10)
		v, _ := json.Marshal(want(id))
		raw.Set(&memcache.Item{Key: rawKeys[i], Value: v})
	}
	st := memcached.New([]string{srv.Addr})
	defer st.Close()
	c := cached.New(cached.WithStore(st), cached.LocalSize(0))
	defer c.Close()
	var loads atomic.Int64
	getMany := cached.WrapBatch(c, "users", func(_ context.Context, ids []int64) (map[int64]*User, error) {
		loads.Add(1)
		m := make(map[int64]*User, len(ids))
		for _, id := range ids {
			m[id] = want(id)
		}
		return m, nil
	})
	getMany(ctx, keys)
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if m, err := raw.GetMulti(rawKeys); err != nil || len(m) != 100 {
				b.Fatal(len(m), err)
			}
		}
	})
	b.Run("raw+json", func(b *testing.B) { // raw, and decoding what it read as the engine does
		b.ReportAllocs()
		for b.Loop() {
			m, err := raw.GetMulti(rawKeys)
			if err != nil || len(m) != 100 {
				b.Fatal(len(m), err)
			}
			out := make(map[string]*User, len(m))
			for k, it := range m {
				var u User
				if err := json.Unmarshal(it.Value, &u); err != nil {
					b.Fatal(err)
				}
				out[k] = &u
			}
		}
	})
	b.Run("wrapbatch", func(b *testing.B) {
		b.ReportAllocs()
		loads.Store(0)
		for b.Loop() {
			if m, err := getMany(ctx, keys); err != nil || len(m) != 100 {
				b.Fatal(len(m), err)
			}
		}
		if loads.Load() != 0 {
			b.Fatalf("%d loads: the keys should all come from memcached", loads.Load())
		}
	})
}

// BenchmarkMemcachedStorm: each iteration, 4 instances (each with its own Store, as
// separate processes have) × 50 goroutines get one new cold key at once; the loader
// blocks until every goroutine has called. loads/op counts the loads per storm, with
// leases and without.
func BenchmarkMemcachedStorm(b *testing.B) {
	for _, leases := range []bool{true, false} {
		name := map[bool]string{true: "leases", false: "no-leases"}[leases]
		b.Run(name, func(b *testing.B) {
			srv := memcachedtest.Start(b)
			var opts []memcached.Option
			if !leases {
				opts = append(opts, memcached.Leases(0, 0))
			}
			var loads atomic.Int64
			var release atomic.Pointer[chan struct{}]
			load := func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				<-*release.Load()
				return want(id), nil
			}
			var gets []getFunc
			for range 4 {
				st := memcached.New([]string{srv.Addr}, opts...)
				c := cached.New(cached.WithStore(st))
				defer func() { c.Close(); st.Close() }()
				gets = append(gets, cached.Wrap(c, "user", load))
			}
			const perInstance = 50
			b.ReportAllocs()
			for i := int64(0); b.Loop(); i++ {
				storm(b, gets, perInstance, 1_000_000+i, &release)
			}
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}

// storm runs one cross-instance storm: perInstance goroutines per instance get key at once.
// The load may return once the last caller has called: it waits on the channel in release,
// which storm replaces and closes.
func storm(b *testing.B, gets []getFunc, perInstance int, key int64, release *atomic.Pointer[chan struct{}]) {
	ch := make(chan struct{})
	release.Store(&ch)
	var arrived atomic.Int32
	var wg sync.WaitGroup
	for _, get := range gets {
		for range perInstance {
			wg.Go(func() {
				if arrived.Add(1) == int32(len(gets)*perInstance) {
					close(ch) // the last caller has called: the load may return
				}
				if _, err := get(context.Background(), key); err != nil {
					b.Error(err)
				}
			})
		}
	}
	wg.Wait()
}

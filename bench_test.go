package cached_test

import (
	"context"
	"testing"

	"github.com/cachedgo/cached"
)

// The peer comparison lives in bench/ (its own module). These benchmarks cover the engine's
// own paths, for benchstat comparisons of engine changes.

func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	load := func(_ context.Context, id int64) (*user, error) { return &user{ID: id}, nil }
	p := &mapPolicy{}
	p.set(map[string]*cached.Rules{"policy": {Options: []cached.Option{cached.TTL(cached.DefaultTTL)}}})
	for _, tc := range []struct {
		name string
		opts []cached.Option
	}{
		{"hit", nil},
		{"hit-static-policy", []cached.Option{cached.WithPolicy(p)}},
		{"hit-observer", []cached.Option{cached.WithObserver(cached.ObserverFunc(func(cached.Event) {}))}},
	} {
		c := cached.New(tc.opts...)
		name := "plain"
		if tc.name == "hit-static-policy" {
			name = "policy"
		}
		get := cached.Wrap(c, name, load)
		for i := range int64(4096) {
			get(ctx, i)
		}
		b.Run(tc.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				get(ctx, int64(i&4095))
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					get(ctx, int64(i&4095))
				}
			})
		})
		c.Close()
	}
	b.Run("negative-hit", func(b *testing.B) {
		c := cached.New()
		defer c.Close()
		get := cached.Wrap(c, "neg", func(context.Context, int64) (*user, error) { return nil, cached.ErrNotFound })
		get(ctx, 1)
		b.ReportAllocs()
		for b.Loop() {
			get(ctx, 1)
		}
	})
	b.Run("miss", func(b *testing.B) {
		c := cached.New(cached.LocalSize(1024))
		defer c.Close()
		get := cached.Wrap(c, "miss", load)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			get(ctx, int64(i))
		}
	})
	b.Run("miss-cancellable-ctx", func(b *testing.B) {
		c := cached.New(cached.LocalSize(1024))
		defer c.Close()
		get := cached.Wrap(c, "miss", load)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			get(ctx, int64(i))
		}
	})
}

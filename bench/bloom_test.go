package bench

import (
	"context"
	"errors"
	"iter"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

const (
	// floodExisting is the number of ids that exist (0 to floodExisting-1) in
	// BenchmarkGuardFlood; the guard is sized and filled for them.
	floodExisting = 1_000_000
	// floodBase is the first of the absent ids a flood draws from [floodBase, 2*floodBase).
	floodBase = 1 << 40
)

// existingIDs yields the ids that exist, as a SELECT id would.
func existingIDs() iter.Seq[string] {
	return func(yield func(string) bool) {
		for id := range int64(floodExisting) {
			if !yield(strconv.FormatInt(id, 10)) {
				return
			}
		}
	}
}

// BenchmarkGuardFlood is a cache-penetration flood: every goroutine gets random ids that do
// not exist, drawn from a space too large for any to repeat, through cached.Wrap over a
// loader that answers cached.ErrNotFound. loads/op is the fraction of requests that reach
// the loader (a database query each, in a service):
//
//   - guard: a bloom.Guard filled with the floodExisting ids that exist, at 1%;
//   - negative-cache: the default NegativeTTL, no guard: a new id is never cached yet;
//   - none: NegativeTTL(0), no guard.
func BenchmarkGuardFlood(b *testing.B) {
	g := bloom.New(floodExisting, 0.01)
	if err := g.Fill(context.Background(), existingIDs()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	for _, p := range []struct {
		name string
		opts []cached.Option
	}{
		{"guard", []cached.Option{cached.WithGuard(g)}},
		{"negative-cache", nil},
		{"none", []cached.Option{cached.NegativeTTL(0)}},
	} {
		b.Run(p.name, func(b *testing.B) {
			var loads atomic.Int64
			c := cached.New()
			defer c.Close()
			get := cached.Wrap(c, "user", func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				if id < floodExisting {
					return want(id), nil
				}
				return nil, cached.ErrNotFound
			}, p.opts...)
			ctx := context.Background()
			var seed atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(seed.Add(1), 0x9e3779b97f4a7c15))
				for pb.Next() {
					id := floodBase + r.Int64N(floodBase)
					if _, err := get(ctx, id); !errors.Is(err, cached.ErrNotFound) {
						b.Errorf("get(%d) = %v; want ErrNotFound", id, err)
						return
					}
				}
			})
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}

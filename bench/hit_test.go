package bench

import (
	"context"
	"sync/atomic"
	"testing"
)

// BenchmarkHit measures a read of a cached key: hotKeys keys, all loaded before timing, read
// in turn by one goroutine (serial) or by GOMAXPROCS goroutines (parallel), each of which
// starts at a different key so that they do not read the same key in lockstep.
func BenchmarkHit(b *testing.B) {
	for _, c := range contenders() {
		b.Run(c.name+"/serial", func(b *testing.B) {
			get := openHot(b, c)
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				id := ids[i&hotMask]
				u, err := get(ctx, id)
				if err := check(id, u, err); err != nil {
					b.Fatalf("get(%d): %v", id, err)
				}
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			get := openHot(b, c)
			ctx := context.Background()
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				// 1031 is prime, so the starting keys differ for any GOMAXPROCS up to hotKeys.
				i := int(goroutines.Add(1)) * 1031
				for ; pb.Next(); i++ {
					id := ids[i&hotMask]
					u, err := get(ctx, id)
					if err := check(id, u, err); err != nil {
						// FailNow must not be called from a RunParallel goroutine.
						b.Errorf("get(%d): %v", id, err)
						return
					}
				}
			})
		})
	}
}

// openHot opens c with every hot key loaded. It fails b if the loads were not all misses,
// if the warm-up pass called the loader again, or if the benchmark did.
func openHot(b *testing.B, c contender) getFunc {
	b.Helper()
	var loads atomic.Int64
	get := open(b, c, func(_ context.Context, id int64) (*User, error) {
		loads.Add(1)
		return want(id), nil
	})
	ctx := context.Background()
	for range 2 {
		for _, id := range ids {
			u, err := get(ctx, id)
			if err := check(id, u, err); err != nil {
				b.Fatalf("preload %d: %v", id, err)
			}
		}
	}
	if n := loads.Load(); n != hotKeys {
		b.Fatalf("preloading %d keys twice called the loader %d times; want %d", hotKeys, n, hotKeys)
	}
	b.Cleanup(func() {
		if n := loads.Load() - hotKeys; n != 0 {
			b.Errorf("the loader was called %d times on hot keys", n)
		}
	})
	return get
}

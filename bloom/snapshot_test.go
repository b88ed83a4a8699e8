package bloom_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// snapStore starts a memcached server for t and returns a Store on it, closed when t
// ends.
func snapStore(t *testing.T) *memcached.Store {
	t.Helper()
	srv := memcachedtest.Start(t)
	st := memcached.New([]string{srv.Addr}, memcached.Timeout(2*time.Second))
	t.Cleanup(func() { st.Close() })
	return st
}

// snapGuard returns a guard named name on st, closed when t ends.
func snapGuard(t *testing.T, st cached.Store, expected uint, name string, opts ...bloom.Option) *bloom.Guard {
	t.Helper()
	g := bloom.New(expected, 0.01, append([]bloom.Option{bloom.WithStore(st), bloom.Name(name), bloom.Logger(nil)}, opts...)...)
	t.Cleanup(func() { g.Close() })
	return g
}

// snapKeys yields prefix+"0" .. prefix+"<n-1>".
func snapKeys(prefix string, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(prefix + strconv.Itoa(i)) {
				return
			}
		}
	}
}

// snapFill fills g with snapKeys(prefix, n).
func snapFill(t *testing.T, g *bloom.Guard, prefix string, n int) {
	t.Helper()
	if err := g.Fill(context.Background(), snapKeys(prefix, n)); err != nil {
		t.Fatal(err)
	}
}

// missing returns how many keys of snapKeys(prefix, n) g rules out.
func missing(g *bloom.Guard, prefix string, n int) int {
	miss := 0
	for k := range snapKeys(prefix, n) {
		if !g.MayExist(k) {
			miss++
		}
	}
	return miss
}

// chunks returns how many snapshot chunks of name st holds.
func chunks(t *testing.T, st cached.Store, name string) int {
	t.Helper()
	for i := 0; ; i++ {
		_, ok, err := st.Get(context.Background(), fmt.Sprintf("bloom:%s:snapshot:%d", name, i))
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return i
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	for _, n := range []int{200_000, 1_000_000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			ctx := context.Background()
			st := snapStore(t)
			a := snapGuard(t, st, uint(n), "users")
			snapFill(t, a, "user", n)
			start := time.Now()
			if err := a.SaveSnapshot(ctx); err != nil {
				t.Fatalf("SaveSnapshot: %v", err)
			}
			saved := time.Since(start)

			b := snapGuard(t, st, uint(n), "users")
			start = time.Now()
			if err := b.LoadSnapshot(ctx); err != nil {
				t.Fatalf("LoadSnapshot: %v", err)
			}
			loaded := time.Since(start)
			sa, sb := a.Stats(), b.Stats()
			t.Logf("%d keys: %d bytes in %d chunks; save %v, load %v", n, sa.Bits/8, chunks(t, st, "users"),
				saved.Round(time.Millisecond), loaded.Round(time.Millisecond))
			if got := st.Stats().TooLarge; got != 0 {
				t.Errorf("store dropped %d items as too large", got)
			}
			if miss := missing(b, "user", n); miss != 0 {
				t.Fatalf("%d of %d filled keys ruled out after LoadSnapshot", miss, n)
			}
			if sb.Keys != sa.Keys || sb.Bits != sa.Bits || sb.Fill != sa.Fill {
				t.Errorf("loaded guard: keys %d, bits %d, fill %v; want %d, %d, %v", sb.Keys, sb.Bits, sb.Fill, sa.Keys, sa.Bits, sa.Fill)
			}
			const probes = 100_000
			fpA, fpB := probes-missing(a, "absent", probes), probes-missing(b, "absent", probes)
			t.Logf("false positives on %d absent keys: A %d, B %d", probes, fpA, fpB)
			if fpA != fpB || fpB > probes/50 {
				t.Errorf("false positives: B %d, A %d; want equal, under 2%%", fpB, fpA)
			}
		})
	}
}

func TestSnapshotMergesWithLiveKeys(t *testing.T) {
	ctx := context.Background()
	st := snapStore(t)
	a := snapGuard(t, st, 100_000, "orders")
	snapFill(t, a, "a", 50_000)
	if err := a.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	b := snapGuard(t, st, 100_000, "orders")
	snapFill(t, b, "b", 30_000)
	if err := b.LoadSnapshot(ctx); err != nil {
		t.Fatalf("LoadSnapshot: %v", err)
	}
	if ma, mb := missing(b, "a", 50_000), missing(b, "b", 30_000); ma != 0 || mb != 0 {
		t.Errorf("after the merge, %d snapshot keys and %d live keys ruled out; want 0 and 0", ma, mb)
	}
	if got := b.Stats().Keys; got < 78_000 || got > 82_000 {
		t.Errorf("Keys = %d; want about 80000, the union", got)
	}
}

// TestSnapshotLoadKeepsConcurrentAdds adds keys while a snapshot is merged in: the
// swap must not lose them.
func TestSnapshotLoadKeepsConcurrentAdds(t *testing.T) {
	ctx := context.Background()
	st := snapStore(t)
	a := snapGuard(t, st, 200_000, "carts")
	snapFill(t, a, "a", 200_000)
	if err := a.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	b := snapGuard(t, st, 200_000, "carts")
	b.Add("b-first") // so that the load merges rather than adopts
	var wg sync.WaitGroup
	stop := make(chan struct{})
	added := make([][]string, 4)
	for w := range added {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := fmt.Sprintf("b%d-%d", w, i)
				b.Add(k)
				added[w] = append(added[w], k)
			}
		})
	}
	for range 3 {
		if err := b.LoadSnapshot(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	n := 0
	for _, ks := range added {
		for _, k := range ks {
			n++
			if !b.MayExist(k) {
				t.Fatalf("key %q added during LoadSnapshot was lost", k)
			}
		}
	}
	if miss := missing(b, "a", 200_000); miss != 0 {
		t.Errorf("%d snapshot keys ruled out", miss)
	}
	t.Logf("%d keys added during 3 loads, none lost", n)
}

func TestSnapshotShape(t *testing.T) {
	ctx := context.Background()
	st := snapStore(t)
	a := snapGuard(t, st, 100_000, "items")
	snapFill(t, a, "a", 1000)
	if err := a.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("empty guard adopts", func(t *testing.T) {
		b := snapGuard(t, st, 10_000, "items")
		if err := b.LoadSnapshot(ctx); err != nil {
			t.Fatalf("LoadSnapshot: %v", err)
		}
		if got := b.Stats().Expected; got != 100_000 {
			t.Errorf("Expected = %d; want the snapshot's 100000", got)
		}
		if miss := missing(b, "a", 1000); miss != 0 {
			t.Errorf("%d snapshot keys ruled out", miss)
		}
	})
	t.Run("cold guard with keys adopts and keeps them", func(t *testing.T) {
		b := snapGuard(t, st, 10_000, "items")
		b.Add("mine") // from a load or the Bus, before the guard was warmed
		if err := b.LoadSnapshot(ctx); err != nil {
			t.Fatalf("LoadSnapshot: %v", err)
		}
		if miss := missing(b, "a", 1000); miss != 0 || !b.MayExist("mine") {
			t.Errorf("%d snapshot keys ruled out, mine kept: %v; want 0, true", miss, b.MayExist("mine"))
		}
	})
	t.Run("warm guard with keys refuses", func(t *testing.T) {
		b := snapGuard(t, st, 10_000, "items")
		if err := b.Fill(ctx, keys("filled", 10)); err != nil {
			t.Fatal(err)
		}
		b.Add("mine")
		before := b.Stats()
		if err := b.LoadSnapshot(ctx); !errors.Is(err, bloom.ErrGeometry) {
			t.Fatalf("LoadSnapshot: err = %v; want ErrGeometry", err)
		}
		if after := b.Stats(); after != before || !b.MayExist("mine") {
			t.Errorf("live filter changed: %+v; want %+v", after, before)
		}
	})
}

func TestSnapshotErrors(t *testing.T) {
	ctx := context.Background()
	noStore := bloom.New(100, 0.01)
	defer noStore.Close()
	if err := noStore.SaveSnapshot(ctx); !errors.Is(err, bloom.ErrNoStore) {
		t.Errorf("SaveSnapshot without Store: err = %v; want ErrNoStore", err)
	}
	if err := noStore.LoadSnapshot(ctx); !errors.Is(err, bloom.ErrNoStore) {
		t.Errorf("LoadSnapshot without Store: err = %v; want ErrNoStore", err)
	}

	st := snapStore(t)
	g := snapGuard(t, st, 100, "nothing-saved")
	if err := g.LoadSnapshot(ctx); !errors.Is(err, bloom.ErrNoSnapshot) {
		t.Errorf("LoadSnapshot of nothing: err = %v; want ErrNoSnapshot", err)
	}

	var lb cached.LocalBus
	open := snapGuard(t, st, 100, "open", bloom.WithBus(&lb))
	lb.Publish(ctx, cached.Message{Topic: cached.TopicResync})
	if err := open.SaveSnapshot(ctx); !errors.Is(err, bloom.ErrOpen) {
		t.Errorf("SaveSnapshot of an open guard: err = %v; want ErrOpen", err)
	}
}

// TestSnapshotUnreadable damages a saved snapshot in the ways a shared store can: each
// load must fail with ErrBadSnapshot and leave the live filter as it was.
func TestSnapshotUnreadable(t *testing.T) {
	const name, n = "accounts", 400_000 // two chunks
	ctx := context.Background()
	st := snapStore(t)
	a := snapGuard(t, st, n, name)
	snapFill(t, a, "a", n)
	chunk := func(i int) string { return fmt.Sprintf("bloom:%s:snapshot:%d", name, i) }
	get := func(key string) cached.Item {
		it, ok, err := st.Get(ctx, key)
		if err != nil || !ok {
			t.Fatalf("Get %q: %v, %v", key, ok, err)
		}
		return it
	}
	set := func(key string, v []byte) {
		if err := st.Set(ctx, key, cached.Item{Value: v, Written: time.Now()}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		damage func()
	}{
		{"flipped byte", func() {
			v := get(chunk(1)).Value
			v[len(v)/2] ^= 0x10
			set(chunk(1), v)
		}},
		{"missing chunk", func() { st.Delete(ctx, chunk(1)) }},
		{"short chunk", func() { set(chunk(0), get(chunk(0)).Value[:100]) }},
		{"chunks swapped", func() {
			c0, c1 := get(chunk(0)).Value, get(chunk(1)).Value
			set(chunk(0), c1)
			set(chunk(1), c0)
		}},
		{"foreign manifest", func() { set("bloom:"+name+":snapshot", []byte("not a manifest")) }},
		{"chunk of another save", func() {
			// A save that ran while this one was read: its chunk 1 overwrote ours.
			old := get(chunk(1)).Value
			if err := a.SaveSnapshot(ctx); err != nil {
				t.Fatal(err)
			}
			set(chunk(1), old)
		}},
	}
	if got := chunks(t, st, name); got != 0 {
		t.Fatalf("%d chunks before any save", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.SaveSnapshot(ctx); err != nil {
				t.Fatal(err)
			}
			if got := chunks(t, st, name); got < 2 {
				t.Fatalf("snapshot of %d keys in %d chunks; want at least 2", n, got)
			}
			tt.damage()
			b := snapGuard(t, st, n, name)
			snapFill(t, b, "b", 1000)
			before := b.Stats()
			err := b.LoadSnapshot(ctx)
			if !errors.Is(err, bloom.ErrBadSnapshot) {
				t.Fatalf("LoadSnapshot: err = %v; want ErrBadSnapshot", err)
			}
			t.Logf("LoadSnapshot: %v", err)
			if after := b.Stats(); after != before {
				t.Errorf("live filter changed: %+v; want %+v", after, before)
			}
			if miss := missing(b, "b", 1000); miss != 0 {
				t.Errorf("%d live keys lost", miss)
			}
			if fp := n - missing(b, "a", n); fp > n/50 {
				t.Errorf("%d of the snapshot's %d keys accepted: garbage was merged", fp, n)
			}
		})
	}
}

// TestRebuildSavesSnapshot: every rebuild leaves a snapshot a new instance starts from.
func TestRebuildSavesSnapshot(t *testing.T) {
	ctx := context.Background()
	st := snapStore(t)
	src := func(context.Context) (iter.Seq[string], error) { return snapKeys("row", 10_000), nil }
	a := snapGuard(t, st, 20_000, "rows", bloom.RebuildFrom(src, 0))
	if err := a.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	b := snapGuard(t, st, 20_000, "rows")
	if err := b.LoadSnapshot(ctx); err != nil {
		t.Fatalf("LoadSnapshot: %v", err)
	}
	if miss := missing(b, "row", 10_000); miss != 0 {
		t.Errorf("%d rebuilt keys ruled out on the new instance", miss)
	}
}

// TestSnapshotConcurrentSaves saves two different filters under one name from two
// instances at once while a third loads: every load must hold all the keys of one save,
// or fail; never a filter stitched from both.
func TestSnapshotConcurrentSaves(t *testing.T) {
	const name, n = "shared", 300_000 // two chunks each
	ctx := context.Background()
	st := snapStore(t)
	x, y := snapGuard(t, st, n, name), snapGuard(t, st, n, name)
	snapFill(t, x, "x", n)
	snapFill(t, y, "y", n)
	if err := x.SaveSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range []*bloom.Guard{x, y} {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := g.SaveSnapshot(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var ok, failed int
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		b := bloom.New(n, 0.01, bloom.WithStore(st), bloom.Name(name))
		err := b.LoadSnapshot(ctx)
		switch {
		case errors.Is(err, bloom.ErrBadSnapshot):
			failed++
		case err != nil:
			t.Fatal(err)
		default:
			ok++
			// 20,000 keys cover every shard, and each chunk.
			if mx, my := missing(b, "x", 20_000), missing(b, "y", 20_000); mx != 0 && my != 0 {
				t.Fatalf("loaded a mix of two saves: %d x keys and %d y keys missing", mx, my)
			}
		}
		b.Close()
	}
	close(stop)
	wg.Wait()
	t.Logf("during concurrent saves: %d loads whole, %d refused", ok, failed)
}

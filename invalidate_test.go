package cached_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/cachedgo/cached"
)

// racingLoad starts a Get of key 1 whose load blocks, runs during while it is blocked,
// then lets the load return "old". It returns what the Get returned.
func racingLoad(t *testing.T, f *cached.Func[int, string], release chan<- struct{}, during func()) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got string
	done := make(chan struct{})
	go func() {
		got, _ = f.Get(ctx, 1)
		close(done)
	}()
	synctest.Wait()
	during()
	release <- struct{}{}
	<-done
	return got
}

// blockingLoader returns "old" the first time, after a value arrives on release, and
// "new" afterwards.
func blockingLoader(calls *atomic.Int64, release <-chan struct{}) func(context.Context, int) (string, error) {
	return func(context.Context, int) (string, error) {
		if calls.Add(1) == 1 {
			<-release
			return "old", nil
		}
		return "new", nil
	}
}

// TestInvalidateWinsOverInFlightLoad: the in-flight result goes to its own callers but is
// never stored over the newer state (otter #137).
func TestInvalidateWinsOverInFlightLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		store := newMemStore()
		c := cached.New(cached.WithStore(store))
		defer c.Close()
		var calls atomic.Int64
		f := cached.NewFunc(c, "doc", blockingLoader(&calls, release))
		ctx := context.Background()
		got := racingLoad(t, f, release, func() {
			if err := f.Invalidate(ctx, 1); err != nil {
				t.Fatalf("Invalidate: %v", err)
			}
		})
		if got != "old" {
			t.Errorf("in-flight caller got %q; want its own result, old", got)
		}
		if _, ok := store.item(":doc::1"); ok {
			t.Errorf("the superseded result reached the store")
		}
		if v, _ := f.Get(ctx, 1); v != "new" {
			t.Errorf("after Invalidate: got %q; want a new load", v)
		}
		if m, ok := store.item(":doc::1"); !ok || string(m.it.Value) != `"new"` {
			t.Errorf("store holds %q, %v; want the new load's value", m.it.Value, ok)
		}
	})
}

func TestPutWinsOverInFlightLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := cached.New()
		defer c.Close()
		var calls atomic.Int64
		f := cached.NewFunc(c, "doc", blockingLoader(&calls, release))
		ctx := context.Background()
		got := racingLoad(t, f, release, func() {
			if err := f.Put(ctx, 1, "put"); err != nil {
				t.Fatalf("Put: %v", err)
			}
		})
		if got != "old" {
			t.Errorf("in-flight caller got %q; want old", got)
		}
		if v, _ := f.Get(ctx, 1); v != "put" || calls.Load() != 1 {
			t.Errorf("after Put: got %q with %d loads; want put, served without a load", v, calls.Load())
		}
	})
}

// TestCallersAfterInvalidateDoNotJoinOldLoad: a caller arriving after Invalidate does not
// get the superseded load's result.
func TestCallersAfterInvalidateDoNotJoinOldLoad(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		c := cached.New()
		defer c.Close()
		var calls atomic.Int64
		f := cached.NewFunc(c, "doc", blockingLoader(&calls, release))
		ctx := context.Background()
		var late string
		racingLoad(t, f, release, func() {
			f.Invalidate(ctx, 1)
			late, _ = f.Get(ctx, 1) // the second load does not block
		})
		if late != "new" {
			t.Errorf("caller after Invalidate got %q; want new", late)
		}
	})
}

func TestRefreshLoadsWhateverIsCached(t *testing.T) {
	c := newCache(t)
	n := 0
	f := cached.NewFunc(c, "n", func(context.Context, string) (int, error) { n++; return n, nil })
	ctx := context.Background()
	f.Get(ctx, "k")
	if v, err := f.Refresh(ctx, "k"); v != 2 || err != nil {
		t.Fatalf("Refresh = %d, %v; want 2", v, err)
	}
	if v, _ := f.Get(ctx, "k"); v != 2 {
		t.Errorf("Get after Refresh = %d; want the refreshed 2", v)
	}
}

// TestBusDropsOtherInstancesTier: Put or Invalidate on one instance drops the key from the
// in-process tier of the others sharing the Store.
func TestBusDropsOtherInstancesTier(t *testing.T) {
	store := newMemStore()
	var bus cached.LocalBus
	a := newCache(t, cached.WithStore(store), cached.WithBus(&bus))
	b := newCache(t, cached.WithStore(store), cached.WithBus(&bus))
	var loads atomic.Int64
	load := func(_ context.Context, id int64) (string, error) {
		loads.Add(1)
		return "v1", nil
	}
	fa := cached.NewFunc(a, "user", load)
	fb := cached.NewFunc(b, "user", load)
	ctx := context.Background()
	fa.Get(ctx, 7)
	if v, _ := fb.Get(ctx, 7); v != "v1" || loads.Load() != 1 {
		t.Fatalf("b: got %q with %d loads; want v1 from the shared store", v, loads.Load())
	}
	if err := fa.Put(ctx, 7, "v2"); err != nil {
		t.Fatal(err)
	}
	if v, _ := fb.Get(ctx, 7); v != "v2" {
		t.Errorf("b after a's Put: got %q; want v2", v)
	}
	if err := fa.Invalidate(ctx, 7); err != nil {
		t.Fatal(err)
	}
	if v, _ := fb.Get(ctx, 7); v != "v1" || loads.Load() != 2 {
		t.Errorf("b after a's Invalidate: got %q with %d loads; want a new load", v, loads.Load())
	}
}

func TestBusResyncDropsEverything(t *testing.T) {
	var bus cached.LocalBus
	c := newCache(t, cached.WithBus(&bus))
	l := countingLoader(func(_ context.Context, k string) (string, error) { return k, nil })
	get := cached.Wrap(c, "x", l.load)
	ctx := context.Background()
	get(ctx, "a")
	bus.Publish(ctx, cached.Message{Topic: cached.TopicResync, Source: "bus"})
	get(ctx, "a")
	if n := l.calls.Load(); n != 2 {
		t.Errorf("loads = %d; want 2: a resync drops the in-process tier", n)
	}
	if st := c.Stats().Funcs["x"]; st.BusErrors != 1 {
		t.Errorf("BusErrors = %d; want 1: a resync is visible", st.BusErrors)
	}
}

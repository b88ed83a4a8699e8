package cached_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// eventCounter is an Observer that counts events by function and kind.
type eventCounter struct {
	mu sync.Mutex // protects n
	n  map[string]map[cached.EventKind]uint64
}

func (o *eventCounter) Observe(e cached.Event) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = make(map[string]map[cached.EventKind]uint64)
	}
	if o.n[e.Func] == nil {
		o.n[e.Func] = make(map[cached.EventKind]uint64)
	}
	o.n[e.Func][e.Kind] += e.Count
}

// TestStatsAndObserverAgree: Stats counts per function, and the Observer sees the same
// events.
func TestStatsAndObserverAgree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		obs := &eventCounter{}
		c := cached.New(cached.WithObserver(obs), cached.TTL(time.Minute), cached.Jitter(nil),
			cached.StaleWhileRevalidate(time.Minute), cached.LocalSize(2))
		defer c.Close()
		boom := errors.New("boom")
		users := cached.Wrap(c, "user", func(_ context.Context, id int) (int, error) {
			switch id {
			case 0:
				return 0, cached.ErrNotFound
			case 13:
				return 0, boom
			}
			return id, nil
		})
		orders := cached.Wrap(c, "order", func(_ context.Context, id int) (int, error) { return id, nil })
		ctx := context.Background()
		users(ctx, 1)  // miss, load
		users(ctx, 1)  // hit
		users(ctx, 0)  // miss, load (not found)
		users(ctx, 0)  // negative hit
		users(ctx, 13) // miss, load error
		orders(ctx, 5) // miss, load
		time.Sleep(90 * time.Second)
		users(ctx, 1) // stale served, refresh
		synctest.Wait()
		for i := range 50 { // overflow LocalSize(2): evictions
			orders(ctx, 100+i)
			synctest.Wait() // let the tier's maintenance run
		}
		synctest.Wait()

		stats := c.Stats()
		u := stats.Funcs["user"]
		want := cached.FuncStats{Hits: 1, Misses: 3, Loads: 3, LoadErrors: 1, NegativeHits: 1, StaleServed: 1, Refreshes: 1}
		if u != want {
			t.Errorf("user stats = %+v; want %+v", u, want)
		}
		o := stats.Funcs["order"]
		if o.Loads != 51 || o.Evictions == 0 {
			t.Errorf("order stats = %+v; want 51 loads and evictions", o)
		}
		if tot := stats.Total(); tot.Loads != u.Loads+o.Loads {
			t.Errorf("Total().Loads = %d; want %d", tot.Loads, u.Loads+o.Loads)
		}
		obs.mu.Lock()
		defer obs.mu.Unlock()
		// Evictions reach the Observer on the next miss (the tier counts them under its
		// locks, where no user code runs): all but the last miss's are reported.
		if got := obs.n["order"][cached.Eviction]; got == 0 || got > o.Evictions {
			t.Errorf("observer saw %d evictions; want between 1 and %d", got, o.Evictions)
		}
		for name, fs := range stats.Funcs {
			got := obs.n[name]
			for kind, n := range map[cached.EventKind]uint64{
				cached.Hit: fs.Hits, cached.Miss: fs.Misses, cached.Load: fs.Loads, cached.LoadError: fs.LoadErrors,
				cached.NegativeHit: fs.NegativeHits, cached.StaleServed: fs.StaleServed, cached.Refresh: fs.Refreshes,
			} {
				if got[kind] != n {
					t.Errorf("%s: observer saw %d %v events; stats say %d", name, got[kind], kind, n)
				}
			}
		}
	})
}

func TestEventKindNames(t *testing.T) {
	for k, want := range map[cached.EventKind]string{cached.Hit: "hit", cached.LoadError: "load_error", cached.BusError: "bus_error"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q; want %q", k, got, want)
		}
	}
}

func TestLocalCostBoundsTier(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		get := cached.Wrap(c, "blob", func(_ context.Context, id int) ([]byte, error) {
			return make([]byte, 1000), nil
		}, cached.LocalCost(10_000, func(b []byte) uint32 { return uint32(len(b)) }))
		ctx := context.Background()
		for i := range 100 {
			get(ctx, i)
			synctest.Wait() // let the tier's maintenance run
		}
		if st := c.Stats().Funcs["blob"]; st.Evictions < 85 {
			t.Errorf("evictions = %d; want at least 85 of 100 1KB values in a 10KB tier", st.Evictions)
		}
	})
}

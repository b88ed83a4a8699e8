package bloom_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// propagation is the promise of WithBus: a key added on one instance is accepted by every
// other within this.
const propagation = time.Second

// fleetBus returns a bus on prefix over its own client of srv, both closed when t ends.
func fleetBus(t *testing.T, srv *etcdtest.Server, prefix string) *bus.Etcd {
	t.Helper()
	b, err := bus.NewEtcd(srv.Client(t), bus.Prefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// fleetGuard returns one instance's guard named name on its own bus on prefix, closed
// (before its bus) when t ends.
func fleetGuard(t *testing.T, srv *etcdtest.Server, prefix, name string, opts ...bloom.Option) *bloom.Guard {
	t.Helper()
	b := fleetBus(t, srv, prefix)
	g := bloom.New(10_000, 0.01, append([]bloom.Option{bloom.WithBus(b), bloom.Name(name), bloom.Logger(nil)}, opts...)...)
	t.Cleanup(func() { g.Close() })
	return g
}

// within polls cond until it holds and returns how long that took, failing t after d.
func within(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func TestFleet(t *testing.T) {
	srv := etcdtest.Start(t)
	n := 0
	prefix := func() string { n++; return fmt.Sprintf("/bloomtest/%d/", n) }

	t.Run("added key reaches every instance", func(t *testing.T) {
		p := prefix()
		a, b := fleetGuard(t, srv, p, "users"), fleetGuard(t, srv, p, "users")
		var took []time.Duration
		for i := 0; len(took) < 50; i++ {
			k := fmt.Sprint("new-record-", i)
			if b.MayExist(k) {
				continue // a false positive on B would measure nothing
			}
			time.Sleep(rand.N(bloom.DefaultFlush)) // Adds come at any phase of A's flush ticker
			a.Add(k)
			took = append(took, within(t, propagation, "B accepts "+k, func() bool { return b.MayExist(k) }))
		}
		slices.Sort(took)
		t.Logf("propagation A→B over %d keys: p50 %v, p99 %v, max %v", len(took),
			took[len(took)/2].Round(time.Millisecond), took[len(took)*99/100].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond))
		if got := a.Stats().Received; got != 0 {
			t.Errorf("A received %d keys; want 0 (its own messages are ignored)", got)
		}
		if got := b.Stats().Received; got != 50 {
			t.Errorf("B received %d keys; want 50", got)
		}
	})

	t.Run("filled keys are not sent", func(t *testing.T) {
		p := prefix()
		a, b := fleetGuard(t, srv, p, "users"), fleetGuard(t, srv, p, "users")
		if err := a.Fill(context.Background(), snapKeys("filled", 5000)); err != nil {
			t.Fatal(err)
		}
		a.Add("marker") // sent after anything Fill would have sent
		within(t, propagation, "B accepts the marker", func() bool { return b.MayExist("marker") })
		if accepted := 5000 - missing(b, "filled", 5000); accepted > 100 {
			t.Errorf("B accepts %d of A's 5000 filled keys; want only false positives", accepted)
		}
		if got := a.Stats().Sent; got != 1 {
			t.Errorf("A sent %d keys; want 1", got)
		}
	})

	t.Run("guards of other names ignored", func(t *testing.T) {
		p := prefix()
		a, b := fleetGuard(t, srv, p, "users"), fleetGuard(t, srv, p, "orders")
		a.Add("users-only")
		time.Sleep(300 * time.Millisecond) // a flush and a delivery; nothing to wait on
		if b.MayExist("users-only") || b.Stats().Received != 0 {
			t.Errorf("guard %q took a key of guard %q", "orders", "users")
		}
	})

	t.Run("malformed batch resyncs", func(t *testing.T) {
		p := prefix()
		raw := fleetBus(t, srv, p)
		b := fleetGuard(t, srv, p, "users")
		publish := func(m cached.Message) {
			if err := raw.Publish(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		garbage := []byte{0x80} // a uvarint that never ends
		publish(cached.Message{Topic: bloom.TopicAdd, Source: "intruder", Func: "other", Data: garbage})
		publish(cached.Message{Topic: bloom.TopicAdd, Source: "intruder", Func: "users", Data: []byte("\x06marker")})
		within(t, propagation, "B accepts the marker", func() bool { return b.MayExist("marker") })
		if b.Stats().Open {
			t.Fatal("a malformed batch for another guard opened B")
		}
		publish(cached.Message{Topic: bloom.TopicAdd, Source: "intruder", Func: "users", Data: garbage})
		within(t, propagation, "B opens", func() bool { return b.Stats().Open })
		if !b.MayExist("never-added") {
			t.Error("open guard ruled a key out")
		}
	})

	t.Run("resync opens a guard without a Source", func(t *testing.T) {
		p := prefix()
		raw := fleetBus(t, srv, p)
		b := fleetGuard(t, srv, p, "users")
		if b.MayExist("never-added") {
			t.Fatal("an empty guard accepted a key") // an empty filter has no bit set
		}
		if err := raw.Publish(context.Background(), cached.Message{Topic: cached.TopicResync, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		within(t, propagation, "B opens", func() bool { return b.Stats().Open })
		if !b.MayExist("never-added") {
			t.Error("open guard ruled a key out")
		}
		if st := b.Stats(); st.Resyncs != 1 {
			t.Errorf("Resyncs = %d; want 1", st.Resyncs)
		}
	})

	t.Run("resync rebuilds a guard with a Source", func(t *testing.T) {
		p := prefix()
		raw := fleetBus(t, srv, p)
		src := func(context.Context) (iter.Seq[string], error) { return snapKeys("row", 1000), nil }
		b := fleetGuard(t, srv, p, "users", bloom.RebuildFrom(src, 0))
		if err := raw.Publish(context.Background(), cached.Message{Topic: cached.TopicResync, Source: "test"}); err != nil {
			t.Fatal(err)
		}
		within(t, propagation, "B resyncs and rebuilds", func() bool {
			st := b.Stats()
			return st.Resyncs == 1 && st.Rebuilds == 1 && !st.Open
		})
		if miss := missing(b, "row", 1000); miss != 0 {
			t.Errorf("%d of the Source's keys ruled out after the rebuild", miss)
		}
		if accepted := 1000 - missing(b, "absent", 1000); accepted > 50 {
			t.Errorf("%d of 1000 absent keys accepted: the guard did not close again", accepted)
		}
	})

	t.Run("engine: Put on A, Get on B", func(t *testing.T) {
		p := prefix()
		mc := memcachedtest.Start(t)
		var db fleetDB
		a, b := db.instance(t, srv, mc.Addr, p, "etcd"), db.instance(t, srv, mc.Addr, p, "etcd")
		ctx := context.Background()
		const id = 1_000_000 // a record not yet created
		if _, err := b.Get(ctx, id); !errors.Is(err, cached.ErrNotFound) {
			t.Fatalf("B.Get before the record exists: err = %v; want ErrNotFound", err)
		}
		db.create(id)
		if err := a.Put(ctx, id, fleetRecord{ID: id}); err != nil {
			t.Fatal(err)
		}
		took := within(t, propagation, "B finds the record created on A", func() bool {
			r, err := b.Get(ctx, id)
			return err == nil && r.ID == id
		})
		t.Logf("record created on A found on B after %v", took.Round(time.Millisecond))
	})
}

// TestFleetWithoutBusRisk shows what a guard without a Bus risks in a fleet: a record
// created on another instance is "not found" here, though the shared store holds it,
// until this guard learns of it (a rebuild, a Fill).
func TestFleetWithoutBusRisk(t *testing.T) {
	mc := memcachedtest.Start(t)
	var db fleetDB
	a, b := db.instance(t, nil, mc.Addr, "", "none"), db.instance(t, nil, mc.Addr, "", "none")
	ctx := context.Background()
	const id = 1_000_000
	db.create(id)
	if err := a.Put(ctx, id, fleetRecord{ID: id}); err != nil {
		t.Fatal(err)
	}
	if r, err := a.Get(ctx, id); err != nil || r.ID != id {
		t.Fatalf("A.Get: %v, %v", r, err)
	}
	time.Sleep(300 * time.Millisecond) // what a Bus would have needed; nothing to wait on
	loads := db.loads.Load()
	if _, err := b.Get(ctx, id); !errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("B.Get: err = %v; want the documented risk, ErrNotFound", err)
	}
	if db.loads.Load() != loads {
		t.Error("B loaded a key its guard ruled out")
	}
	// B learns of it with its next Fill (or rebuild).
	if err := b.guard.Fill(ctx, db.ids()); err != nil {
		t.Fatal(err)
	}
	if r, err := b.Get(ctx, id); err != nil || r.ID != id {
		t.Errorf("B.Get after a Fill: %v, %v", r, err)
	}
}

type fleetRecord struct{ ID int64 }

// fleetDB is the database a fleet shares: ids 0..99 exist, and create adds one.
type fleetDB struct {
	mu      sync.Mutex // protects created
	created map[int64]bool
	loads   atomic.Int64
}

func (db *fleetDB) create(id int64) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.created == nil {
		db.created = make(map[int64]bool)
	}
	db.created[id] = true
}

func (db *fleetDB) load(_ context.Context, id int64) (fleetRecord, error) {
	db.loads.Add(1)
	db.mu.Lock()
	defer db.mu.Unlock()
	if (id >= 0 && id < 100) || db.created[id] {
		return fleetRecord{ID: id}, nil
	}
	return fleetRecord{}, cached.ErrNotFound
}

// ids is SELECT id.
func (db *fleetDB) ids() iter.Seq[string] {
	db.mu.Lock()
	all := make([]string, 0, 100+len(db.created))
	for id := range 100 {
		all = append(all, fmt.Sprint(id))
	}
	for id := range db.created {
		all = append(all, fmt.Sprint(id))
	}
	db.mu.Unlock()
	return slices.Values(all)
}

// fleetInstance is one instance of a service: a Cache on the shared memcached, with a
// guarded function over db.
type fleetInstance struct {
	*cached.Func[int64, fleetRecord]
	guard *bloom.Guard
}

// instance starts an instance, on a Bus on prefix when srv is not nil, filled from db.
// Everything is closed when t ends.
func (db *fleetDB) instance(t *testing.T, srv *etcdtest.Server, addr, prefix, label string) fleetInstance {
	t.Helper()
	st := memcached.New([]string{addr}, memcached.Timeout(time.Second))
	t.Cleanup(func() { st.Close() })
	copts := []cached.Option{cached.WithStore(st), cached.WithLogger(slog.New(slog.DiscardHandler))}
	gopts := []bloom.Option{bloom.Name("record"), bloom.Logger(nil)}
	if srv != nil {
		bs := fleetBus(t, srv, prefix)
		copts = append(copts, cached.WithBus(bs))
		gopts = append(gopts, bloom.WithBus(bs))
	}
	g := bloom.New(10_000, 0.01, gopts...)
	t.Cleanup(func() { g.Close() })
	if err := g.Fill(context.Background(), db.ids()); err != nil {
		t.Fatal(err)
	}
	c := cached.New(copts...)
	t.Cleanup(func() { c.Close() })
	return fleetInstance{cached.NewFunc(c, "record-"+label, db.load, cached.WithGuard(g)), g}
}

// TestResyncDuringRebuildKeepsGuardOpen: a resync that arrives while a rebuild runs
// reports keys lost after the rebuild read its Source, so that rebuild must not close the
// guard; only the rebuild the resync started, which reads them, may.
func TestResyncDuringRebuildKeepsGuardOpen(t *testing.T) {
	var lb cached.LocalBus
	var calls atomic.Int32
	scanned := make(chan struct{}, 2)
	release1, release2 := make(chan struct{}), make(chan struct{})
	free1, free2 := sync.OnceFunc(func() { close(release1) }), sync.OnceFunc(func() { close(release2) })
	src := func(context.Context) (iter.Seq[string], error) {
		n := calls.Add(1)
		return func(yield func(string) bool) {
			for k := range snapKeys("row", 100) {
				if !yield(k) {
					return
				}
			}
			if n == 1 {
				scanned <- struct{}{}
				<-release1
				return
			}
			if yield("late") { // created after the first rebuild's scan
				<-release2
			}
		}, nil
	}
	g := bloom.New(1000, 0.01, bloom.WithBus(&lb), bloom.RebuildFrom(src, 0), bloom.Logger(nil))
	defer g.Close()
	defer free2()
	defer free1()
	ctx := context.Background()
	lb.Publish(ctx, cached.Message{Topic: cached.TopicResync}) // rebuild 1 starts
	<-scanned
	// "late" is created on another instance now, and its message is lost: a second
	// resync, and a second rebuild that waits for the first.
	lb.Publish(ctx, cached.Message{Topic: cached.TopicResync})
	free1()
	within(t, 5*time.Second, "rebuild 1", func() bool { return g.Stats().Rebuilds == 1 })
	if !g.MayExist("late") {
		t.Errorf("after the first rebuild, a key whose message was lost is ruled out (Open = %v)", g.Stats().Open)
	}
	free2()
	within(t, 5*time.Second, "rebuild 2 closes the guard", func() bool {
		st := g.Stats()
		return st.Rebuilds == 2 && !st.Open
	})
	if !g.MayExist("late") {
		t.Error("after the second rebuild, late is ruled out")
	}
}

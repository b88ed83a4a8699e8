package cached_test

import (
	"context"
	"encoding/json"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// TestLocalTTLCappedWithStoreAndNoBus: with a shared Store and no Bus, the in-process
// copy is re-read from the Store after DefaultLocalTTLWithStore, so another instance's
// Put is seen within that time.
func TestLocalTTLCappedWithStoreAndNoBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		a := cached.New(cached.WithStore(store))
		defer a.Close()
		b := cached.New(cached.WithStore(store))
		defer b.Close()
		load := func(context.Context, int) (string, error) { return "v1", nil }
		fa, fb := cached.NewFunc(a, "x", load), cached.NewFunc(b, "x", load)
		ctx := context.Background()
		fb.Get(ctx, 1)
		fa.Put(ctx, 1, "v2")
		if v, _ := fb.Get(ctx, 1); v != "v1" {
			t.Fatalf("b right after a's Put: %q; want its in-process v1", v)
		}
		time.Sleep(cached.DefaultLocalTTLWithStore + time.Millisecond)
		if v, _ := fb.Get(ctx, 1); v != "v2" {
			t.Errorf("b after %v: %q; want v2 from the store", cached.DefaultLocalTTLWithStore, v)
		}
	})
}

func TestStoreTTLCoversStaleWindow(t *testing.T) {
	store := newMemStore()
	c := newCache(t, cached.WithStore(store), cached.TTL(time.Minute), cached.Jitter(nil),
		cached.StaleWhileRevalidate(2*time.Minute), cached.StaleIfError(5*time.Minute))
	cached.Wrap(c, "x", func(context.Context, int) (int, error) { return 1, nil })(context.Background(), 1)
	m, ok := store.item(":x::1")
	if !ok {
		t.Fatal("nothing stored")
	}
	if m.ttl != 6*time.Minute {
		t.Errorf("store TTL = %v; want 6m (TTL + the longest stale window)", m.ttl)
	}
	if fresh := time.Until(m.it.Fresh); fresh < 59*time.Second || fresh > time.Minute {
		t.Errorf("item fresh for %v; want the 1m TTL", fresh)
	}
}

func TestVersionOrphansOldEntries(t *testing.T) {
	store := newMemStore()
	ctx := context.Background()
	old := newCache(t, cached.WithStore(store))
	cached.Wrap(old, "user", func(context.Context, int) (string, error) { return "old shape", nil }, cached.Version("1"))(ctx, 1)
	c := newCache(t, cached.WithStore(store))
	loads := 0
	get := cached.Wrap(c, "user", func(context.Context, int) (string, error) { loads++; return "new shape", nil }, cached.Version("2"))
	if v, _ := get(ctx, 1); v != "new shape" || loads != 1 {
		t.Errorf("got %q with %d loads; want the v2 loader, not the v1 entry", v, loads)
	}
}

// upperCodec is a Codec that is not JSON on the wire.
type upperCodec struct{ used *int }

func (c upperCodec) Marshal(v any) ([]byte, error) {
	*c.used++
	b, err := json.Marshal(v)
	return append([]byte("U"), b...), err
}

func (c upperCodec) Unmarshal(data []byte, v any) error {
	*c.used++
	return json.Unmarshal(data[1:], v)
}

func TestCustomCodec(t *testing.T) {
	store := newMemStore()
	used := 0
	ctx := context.Background()
	a := newCache(t, cached.WithStore(store), cached.WithCodec(upperCodec{&used}))
	cached.Wrap(a, "x", func(context.Context, int) (user, error) { return user{ID: 1, Name: "a"}, nil })(ctx, 1)
	b := newCache(t, cached.WithStore(store), cached.WithCodec(upperCodec{&used}))
	u, err := cached.Wrap(b, "x", func(context.Context, int) (user, error) { return user{}, nil })(ctx, 1)
	if err != nil || u.Name != "a" || used != 2 {
		t.Errorf("got %v, %v with %d codec calls; want a's value through the codec", u, err, used)
	}
	if m, _ := store.item(":x::1"); m.it.Value[0] != 'U' {
		t.Errorf("stored %q; want the codec's encoding", m.it.Value)
	}
}

func TestNegativeResultsReachTheStore(t *testing.T) {
	store := newMemStore()
	ctx := context.Background()
	a := newCache(t, cached.WithStore(store))
	cached.Wrap(a, "x", func(context.Context, int) (int, error) { return 0, cached.ErrNotFound })(ctx, 1)
	b := newCache(t, cached.WithStore(store))
	loads := 0
	_, err := cached.Wrap(b, "x", func(context.Context, int) (int, error) { loads++; return 1, nil })(ctx, 1)
	if loads != 0 || err == nil {
		t.Errorf("b: err %v with %d loads; want a's cached not-found", err, loads)
	}
}

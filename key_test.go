package cached_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// TestWrap2KeysNeverCollide: arguments are separate key segments.
func TestWrap2KeysNeverCollide(t *testing.T) {
	store := newMemStore()
	c := newCache(t, cached.WithStore(store))
	l := countingLoader(func(_ context.Context, p [2]string) (string, error) { return p[0] + "|" + p[1], nil })
	get := cached.Wrap2(c, "pair", func(ctx context.Context, a, b string) (string, error) {
		return l.load(ctx, [2]string{a, b})
	})
	ctx := context.Background()
	v1, _ := get(ctx, "a:b", "c")
	v2, _ := get(ctx, "a", "b:c")
	if v1 != "a:b|c" || v2 != "a|b:c" || l.calls.Load() != 2 {
		t.Errorf("got %q and %q with %d loads; want two distinct loads", v1, v2, l.calls.Load())
	}
	keys := store.setKeys()
	if len(keys) != 2 || keys[0] == keys[1] {
		t.Errorf("store keys = %q; want two distinct keys", keys)
	}
}

func TestKeyLayout(t *testing.T) {
	store := newMemStore()
	c := newCache(t, cached.WithStore(store), cached.WithNamespace("shop"))
	ctx := context.Background()
	cached.Wrap(c, "user", func(context.Context, int64) (int, error) { return 1, nil }, cached.Version("v2"))(ctx, 42)
	cached.Wrap(c, "by:email", func(context.Context, string) (int, error) { return 1, nil })(ctx, "a%b:c")
	cached.Wrap0(c, "countries", func(context.Context) (int, error) { return 1, nil })(ctx)
	cached.Wrap2(c, "perm", func(context.Context, string, int) (int, error) { return 1, nil })(ctx, "x", 3)
	want := []string{"shop:user:v2:42", "shop:by%3Aemail::a%25b%3Ac", "shop:countries::", "shop:perm::x:3"}
	if got := store.setKeys(); !slices.Equal(got, want) {
		t.Errorf("keys = %q; want %q", got, want)
	}
}

type color int

func (c color) String() string { return [...]string{"red", "green"}[c] }

type point struct{ X, Y int }

type userID int64

func TestKeyTypesNeedNoKeyFunc(t *testing.T) {
	store := newMemStore()
	c := newCache(t, cached.WithStore(store))
	ctx := context.Background()
	cached.Wrap(c, "bool", func(context.Context, bool) (int, error) { return 1, nil })(ctx, true)
	cached.Wrap(c, "uint8", func(context.Context, uint8) (int, error) { return 1, nil })(ctx, 200)
	cached.Wrap(c, "named", func(context.Context, userID) (int, error) { return 1, nil })(ctx, 9)
	cached.Wrap(c, "stringer", func(context.Context, color) (int, error) { return 1, nil })(ctx, 1)
	cached.Wrap(c, "text", func(context.Context, netip.Addr) (int, error) { return 1, nil })(ctx, netip.MustParseAddr("10.0.0.1"))
	cached.Wrap(c, "keyfunc", func(context.Context, point) (int, error) { return 1, nil },
		cached.KeyFunc(func(p point) string { return fmt.Sprintf("%d,%d", p.X, p.Y) }))(ctx, point{1, 2})
	want := []string{":bool::true", ":uint8::200", ":named::9", ":stringer::green", ":text::10.0.0.1", ":keyfunc::1,2"}
	if got := store.setKeys(); !slices.Equal(got, want) {
		t.Errorf("keys = %q; want %q", got, want)
	}
}

func TestKeyTypeWithoutStringFormPanics(t *testing.T) {
	c := newCache(t)
	for _, tc := range []struct {
		name string
		wrap func()
	}{
		{"struct", func() { cached.Wrap(c, "p", func(context.Context, point) (int, error) { return 0, nil }) }},
		{"interface", func() { cached.Wrap(c, "a", func(context.Context, any) (int, error) { return 0, nil }) }},
		{"wrap2", func() {
			cached.Wrap2(c, "p2", func(context.Context, string, point) (int, error) { return 0, nil })
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				msg := fmt.Sprint(recover())
				if !strings.HasPrefix(msg, "cached: ") || !strings.Contains(msg, "cached.KeyFunc") {
					t.Errorf("panic = %q; want a cached: message that says to pass cached.KeyFunc", msg)
				}
			}()
			tc.wrap()
		})
	}
}

func TestBadOptionsPanic(t *testing.T) {
	c := newCache(t)
	for name, fn := range map[string]func(){
		"TTL(0)":           func() { cached.TTL(0) },
		"NegativeTTL(-1)":  func() { cached.NegativeTTL(-time.Second) },
		"EarlyRefresh(-1)": func() { cached.EarlyRefresh(-1) },
		"LocalSize(-1)":    func() { cached.LocalSize(-1) },
		"empty name":       func() { cached.Wrap(c, "", func(context.Context, int) (int, error) { return 0, nil }) },
		"LocalCost type": func() {
			cached.Wrap(c, "x", func(context.Context, int) (int, error) { return 0, nil },
				cached.LocalCost(10, func(string) uint32 { return 1 }))
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if msg := fmt.Sprint(recover()); !strings.HasPrefix(msg, "cached: ") {
					t.Errorf("panic = %q; want one with the cached: prefix", msg)
				}
			}()
			fn()
		})
	}
}

// TestFunc2AndFunc0Invalidate: the two-argument and no-argument forms have the whole API,
// and a Bus invalidation finds their entries by decoding the key.
func TestFunc2AndFunc0Invalidate(t *testing.T) {
	var bus cached.LocalBus
	store := newMemStore()
	a := newCache(t, cached.WithBus(&bus), cached.WithStore(store))
	b := newCache(t, cached.WithBus(&bus), cached.WithStore(store))
	n := 0
	load2 := func(_ context.Context, x string, y int) (int, error) { n++; return n, nil }
	fa, fb := cached.NewFunc2(a, "f2", load2), cached.NewFunc2(b, "f2", load2)
	ctx := context.Background()
	fb.Get(ctx, "p:q", 1) // n = 1, cached in b
	fa.Put(ctx, "p:q", 1, 100)
	if v, _ := fb.Get(ctx, "p:q", 1); v != 100 {
		t.Errorf("Func2 in b after a's Put = %d; want 100", v)
	}
	m := 0
	load0 := func(context.Context) (int, error) { m++; return m, nil }
	ga, gb := cached.NewFunc0(a, "f0", load0), cached.NewFunc0(b, "f0", load0)
	gb.Get(ctx)
	ga.Invalidate(ctx)
	if v, _ := gb.Get(ctx); v != 2 {
		t.Errorf("Func0 in b after a's Invalidate = %d; want a new load, 2", v)
	}
	if v, _ := ga.Refresh(ctx); v != 3 {
		t.Errorf("Refresh = %d; want 3", v)
	}
}

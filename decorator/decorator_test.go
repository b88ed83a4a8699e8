package decorator_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/decorator"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCache(t *testing.T, opts ...cached.Option) *cached.Cache {
	t.Helper()
	c := cached.New(opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestChainOrder: the first decorator is outermost, on the way in and on the way out;
// nil decorators are skipped and an empty chain is the function itself.
func TestChainOrder(t *testing.T) {
	var trace []string
	mark := func(name string) decorator.Decorator[int, string] {
		return decorator.Around(func(ctx context.Context, k int, proceed func(context.Context, int) (string, error)) (string, error) {
			trace = append(trace, name+">")
			v, err := proceed(ctx, k)
			trace = append(trace, "<"+name)
			return v + name, err
		})
	}
	fn := func(_ context.Context, k int) (string, error) {
		trace = append(trace, "fn")
		return fmt.Sprint(k), nil
	}
	v, err := decorator.Chain(mark("a"), nil, mark("b"), mark("c"))(fn)(context.Background(), 1)
	if err != nil || v != "1cba" {
		t.Fatalf("chained call = %q, %v, want 1cba", v, err)
	}
	if want := []string{"a>", "b>", "c>", "fn", "<c", "<b", "<a"}; !slices.Equal(trace, want) {
		t.Fatalf("trace %v, want %v", trace, want)
	}
	if v, _ := decorator.Chain[int, string]()(fn)(context.Background(), 2); v != "2" {
		t.Fatalf("empty chain = %q", v)
	}
}

// TestCachedInAChain: advice before Cached sees every call, advice after it only loads;
// Around can change the argument and see the error.
func TestCachedInAChain(t *testing.T) {
	c := newCache(t)
	var calls, loads int
	var lastErr error
	errOdd := errors.New("odd")
	getUser := decorator.Chain(
		decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (string, error)) (string, error) {
			calls++
			v, err := proceed(ctx, id)
			lastErr = err
			return v, err
		}),
		decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (string, error)) (string, error) {
			if id < 0 {
				id = -id // normalise before the cache: -1 and 1 share a key
			}
			return proceed(ctx, id)
		}),
		decorator.Cached[int64, string](c, "user"),
		decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (string, error)) (string, error) {
			loads++
			return proceed(ctx, id)
		}),
	)(func(_ context.Context, id int64) (string, error) {
		if id%2 == 1 && id > 2 {
			return "", errOdd
		}
		return fmt.Sprint("user", id), nil
	})
	ctx := context.Background()
	for _, id := range []int64{1, -1, 1, 2} {
		if _, err := getUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 4 || loads != 2 {
		t.Fatalf("calls %d, loads %d; want 4 and 2", calls, loads)
	}
	if _, err := getUser(ctx, 3); err != errOdd || lastErr != errOdd {
		t.Fatalf("error %v (advice saw %v), want errOdd unchanged", err, lastErr)
	}
}

func TestAroundNilPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Around(nil) did not panic")
		}
	}()
	decorator.Around[int, int](nil)
}

// TestKey: parts are written as the engine writes keys, escaped so that each key has one
// reading.
func TestKey(t *testing.T) {
	type level int
	cases := []struct {
		parts []any
		want  string
	}{
		{[]any{"a:b", "c"}, "a%3Ab:c"},
		{[]any{"a", "b:c"}, "a:b%3Ac"},
		{[]any{int64(-4), uint8(7), true, level(3)}, "-4:7:true:3"},
		{[]any{netip.MustParseAddr("10.0.0.1")}, "10.0.0.1"},
		{[]any{"100%"}, "100%25"},
		{[]any{""}, ""},
		{[]any{1.5}, "1.5"},
	}
	for _, tc := range cases {
		if got := decorator.Key(tc.parts...); got != tc.want {
			t.Errorf("Key(%v) = %q, want %q", tc.parts, got, tc.want)
		}
	}
}

func TestArgsOf(t *testing.T) {
	type args struct{ q string }
	ctx := decorator.WithArgs(context.Background(), args{"x"})
	if a, err := decorator.ArgsOf[args](ctx); err != nil || a.q != "x" {
		t.Fatalf("ArgsOf = %v, %v", a, err)
	}
	if _, err := decorator.ArgsOf[args](context.Background()); !errors.Is(err, decorator.ErrNoArgs) {
		t.Fatalf("ArgsOf without args: %v", err)
	}
	if _, err := decorator.ArgsOf[string](ctx); !errors.Is(err, decorator.ErrNoArgs) {
		t.Fatalf("ArgsOf of another type: %v", err)
	}
}

func TestOne(t *testing.T) {
	var asked [][]int
	one := decorator.One(func(_ context.Context, ks []int) (map[int]string, error) {
		asked = append(asked, ks)
		if ks[0] == 9 {
			return nil, errors.New("down")
		}
		return map[int]string{1: "one"}, nil
	})
	ctx := context.Background()
	if v, err := one(ctx, 1); err != nil || v != "one" {
		t.Fatalf("one(1) = %q, %v", v, err)
	}
	if _, err := one(ctx, 2); !errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("one(2) = %v, want ErrNotFound", err)
	}
	if _, err := one(ctx, 9); err == nil || errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("one(9) = %v, want the batch's error", err)
	}
	if len(asked) != 3 || !slices.Equal(asked[0], []int{1}) {
		t.Fatalf("asked %v", asked)
	}
}

// TestTagsAreSharedPerCache: decorators of one Cache share its tags; another Cache's are
// its own.
func TestTagsAreSharedPerCache(t *testing.T) {
	c1, c2 := newCache(t), newCache(t)
	if a, b := decorator.TagsOf(c1), decorator.TagsOf(c1); a != b || a == decorator.TagsOf(c2) {
		t.Fatal("TagsOf: want one Tags per Cache")
	}
}

// entity is a row cached under two keys.
type entity struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// table is a database of entities, counting reads.
type table struct {
	mu    sync.Mutex
	rows  map[int64]entity
	reads int
}

func (tb *table) byID(_ context.Context, id int64) (entity, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.reads++
	e, ok := tb.rows[id]
	if !ok {
		return e, cached.ErrNotFound
	}
	return e, nil
}

func (tb *table) byName(_ context.Context, name string) (entity, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.reads++
	for _, e := range tb.rows {
		if e.Name == name {
			return e, nil
		}
	}
	return entity{}, cached.ErrNotFound
}

func (tb *table) rename(id int64, name string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.rows[id] = entity{ID: id, Name: name}
}

func (tb *table) count() int {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.reads
}

func tagOf(_ int64, e entity) []string      { return []string{"entity:" + decorator.Key(e.ID)} }
func tagOfName(_ string, e entity) []string { return []string{"entity:" + decorator.Key(e.ID)} }

// TestTaggedFunc: values of two functions tagged with one entity are invalidated together,
// Put tags what it stores, and a tag of another entity leaves them alone.
func TestTaggedFunc(t *testing.T) {
	c := newCache(t)
	tb := &table{rows: map[int64]entity{1: {1, "ann"}, 2: {2, "bob"}}}
	byID := decorator.NewTaggedFunc(c, "byID", tb.byID, tagOf)
	byName := decorator.NewTaggedFunc(c, "byName", tb.byName, tagOfName)
	tags := decorator.TagsOf(c)
	ctx := context.Background()
	read := func() {
		t.Helper()
		if _, err := byID.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := byName.Get(ctx, "ann"); err != nil && !errors.Is(err, cached.ErrNotFound) {
			t.Fatal(err)
		}
	}
	read()
	read()
	if n := tb.count(); n != 2 {
		t.Fatalf("%d reads, want 2", n)
	}
	if err := tags.Invalidate(ctx, "entity:2"); err != nil {
		t.Fatal(err)
	}
	read()
	if n := tb.count(); n != 2 {
		t.Fatalf("another entity's tag caused reads: %d, want 2", n)
	}
	tb.rename(1, "anne")
	if err := tags.Invalidate(ctx, "entity:1"); err != nil {
		t.Fatal(err)
	}
	if e, _ := byID.Get(ctx, 1); e.Name != "anne" {
		t.Fatalf("byID after the invalidation = %+v", e)
	}
	if _, err := byName.Get(ctx, "ann"); !errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("byName(old name) after the invalidation: %v, want not found", err)
	}
	// Put stores a tagged value: a later invalidation of its tag reaches it.
	if err := byID.Put(ctx, 2, entity{2, "robert"}); err != nil {
		t.Fatal(err)
	}
	if e, _ := byID.Get(ctx, 2); e.Name != "robert" {
		t.Fatalf("byID(2) after Put = %+v", e)
	}
	before := tb.count()
	if err := tags.Invalidate(ctx, "entity:2"); err != nil {
		t.Fatal(err)
	}
	if e, _ := byID.Get(ctx, 2); e.Name != "bob" || tb.count() != before+1 {
		t.Fatalf("byID(2) after its tag was invalidated = %+v (reads %d, want %d)", e, tb.count(), before+1)
	}
}

// TestTagsAcrossAFleet: two instances share a real memcached and an etcd bus. A user
// cached by name on one is invalidated by a tag the other invalidates; values written to
// memcached before the invalidation are not served by either.
func TestTagsAcrossAFleet(t *testing.T) {
	mc := memcachedtest.Start(t)
	etcd := etcdtest.Start(t)
	tb := &table{rows: map[int64]entity{1: {1, "ann"}}}
	type instance struct {
		c      *cached.Cache
		byName *decorator.TaggedFunc[string, entity]
		got    chan string // tag records invalidated by the other instance, as delivered
	}
	var fleet []*instance
	for range 2 {
		b, err := bus.NewEtcd(etcd.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		in := &instance{got: make(chan string, 16)}
		in.c = newCache(t, cached.WithStore(memcached.New([]string{mc.Addr})), cached.WithBus(b))
		in.byName = decorator.NewTaggedFunc(in.c, "byName", tb.byName, tagOfName)
		id := in.c.ID()
		// Subscribed after the Cache: told after the Cache has dropped the record.
		unsub := b.Subscribe(func(m cached.Message) {
			if m.Topic == cached.TopicInvalidate && m.Func == decorator.TagFunc && m.Source != id {
				in.got <- m.Key
			}
		})
		t.Cleanup(unsub)
		fleet = append(fleet, in)
	}
	a, b := fleet[0], fleet[1]
	ctx := context.Background()
	for _, in := range fleet {
		if e, err := in.byName.Get(ctx, "ann"); err != nil || e.ID != 1 {
			t.Fatalf("Get = %+v, %v", e, err)
		}
	}
	if n := tb.count(); n != 1 {
		t.Fatalf("%d reads, want 1: the second instance reads memcached", n)
	}
	tb.rename(1, "anne")
	if err := decorator.TagsOf(b.c).Invalidate(ctx, "entity:1"); err != nil {
		t.Fatal(err)
	}
	<-a.got
	// A new instance, which never saw the invalidation, finds the value loaded before it
	// in memcached, and the tag's record there too.
	late := newCache(t, cached.WithStore(memcached.New([]string{mc.Addr})))
	if _, err := decorator.NewTaggedFunc(late, "byName", tb.byName, tagOfName).Get(ctx, "ann"); !errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("late instance: byName(old name): %v, want not found", err)
	}
	for i, in := range fleet {
		if _, err := in.byName.Get(ctx, "ann"); !errors.Is(err, cached.ErrNotFound) {
			t.Fatalf("instance %d: byName(old name) after the invalidation: %v, want not found", i, err)
		}
	}
}

// TestReloadAfterATagIsShared: many callers of a hot key right after its tag was
// invalidated cause one load, not one each.
func TestReloadAfterATagIsShared(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		var mu sync.Mutex
		loads := 0
		var release chan struct{}
		byID := decorator.NewTaggedFunc(c, "byID", func(_ context.Context, id int64) (entity, error) {
			mu.Lock()
			loads++
			ch := release
			mu.Unlock()
			if ch != nil {
				<-ch
			}
			return entity{ID: id}, nil
		}, tagOf)
		ctx, cancel := context.WithCancel(context.Background()) // cancellable: loads run detached
		defer cancel()
		if _, err := byID.Get(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if err := decorator.TagsOf(c).Invalidate(ctx, "entity:1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond) // the bubble's clock: loads after this start after the write
		mu.Lock()
		release = make(chan struct{})
		mu.Unlock()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if e, err := byID.Get(ctx, 1); err != nil || e.ID != 1 {
					t.Errorf("Get = %+v, %v", e, err)
				}
			})
		}
		synctest.Wait() // every caller is waiting for the reload
		close(release)
		wg.Wait()
		if loads != 2 {
			t.Fatalf("%d loads, want 2: the first and one reload shared by 50 callers", loads)
		}
	})
}

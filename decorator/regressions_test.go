package decorator_test

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"weak"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/decorator"
)

// rvTagOf tags a row by its key, whether it exists or not.
func rvTagOf(id int64, _ entity) []string { return []string{"row:" + decorator.Key(id)} }

// rvStore is a Store in a map, shared by the instances of a test. hook, when set, runs at
// the start of every Set with its key and whether it is a write-back; it returns false to
// drop the write (as a Store guarding misses with leases drops a write-back whose lease
// was lost to a newer write).
type rvStore struct {
	mu    sync.Mutex
	items map[string]cached.Item
	hook  func(key string, writeBack bool) bool
}

func newRVStore() *rvStore { return &rvStore{items: map[string]cached.Item{}} }

func (s *rvStore) Get(_ context.Context, key string) (cached.Item, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[key]
	return it, ok, nil
}

func (s *rvStore) Set(ctx context.Context, key string, it cached.Item, _ time.Duration) error {
	s.mu.Lock()
	h := s.hook
	s.mu.Unlock()
	if h != nil && !h(key, cached.IsWriteBack(ctx)) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[key] = it
	return nil
}

func (s *rvStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	return nil
}

// TestRegressionTagInvalidationAcrossABusWithoutStore: instances that keep values in process
// only and share a Bus (WithBus without WithStore, a set-up the engine supports: Put and
// Invalidate reach every instance). A tag invalidated on one instance must invalidate the
// values tagged with it on the other; it does not, because the record of the invalidation
// lives only in the invalidating instance (its own map and its in-process tier): the other
// drops its record of the tag on the Bus message, reads it again, finds none and serves
// its old value.
func TestRegressionTagInvalidationAcrossABusWithoutStore(t *testing.T) {
	var b cached.LocalBus
	tb := &table{rows: map[int64]entity{1: {1, "ann"}}}
	ca := newCache(t, cached.WithBus(&b))
	cb := newCache(t, cached.WithBus(&b))
	fa := decorator.NewTaggedFunc(ca, "row", tb.byID, rvTagOf)
	fb := decorator.NewTaggedFunc(cb, "row", tb.byID, rvTagOf)
	ctx := context.Background()
	for _, f := range []*decorator.TaggedFunc[int64, entity]{fa, fb} {
		if r, err := f.Get(ctx, 1); err != nil || r.Name != "ann" {
			t.Fatalf("Get = %+v, %v", r, err)
		}
	}
	tb.rename(1, "anne")
	if err := decorator.TagsOf(ca).Invalidate(ctx, "row:1"); err != nil {
		t.Fatal(err)
	}
	if r, _ := fa.Get(ctx, 1); r.Name != "anne" {
		t.Fatalf("instance a after its own tag invalidation: %+v", r)
	}
	if r, _ := fb.Get(ctx, 1); r.Name != "anne" {
		t.Fatalf("instance b after instance a invalidated row:1 (delivered on the Bus): %+v, want anne: the invalidation was lost", r)
	}
}

// TestRegressionSharedReloadIsNotCheckedAgainstLaterInvalidations: callers that find a value
// invalidated by a tag share one reload (TaggedFunc.reload). A caller that arrives after a
// second write (its tag invalidation returned) joins the reload started before that write
// and is answered with what it read: data older than a write that completed before the
// call began. The engine prevents this for keys (Invalidate supersedes the flight); the
// shared reload is not superseded by a tag invalidation, and its answer is not checked.
func TestRegressionSharedReloadIsNotCheckedAgainstLaterInvalidations(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		var mu sync.Mutex
		name := "v1"
		var entered chan struct{}
		var release chan struct{}
		f := decorator.NewTaggedFunc(c, "row", func(_ context.Context, id int64) (entity, error) {
			mu.Lock()
			r := entity{id, name} // read the row, then take time to answer
			en, rel := entered, release
			entered, release = nil, nil
			mu.Unlock()
			if en != nil {
				close(en)
				<-rel
			}
			return r, nil
		}, rvTagOf)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tags := decorator.TagsOf(c)
		write := func(v string) {
			mu.Lock()
			name = v
			mu.Unlock()
			if err := tags.Invalidate(ctx, "row:1"); err != nil {
				t.Error(err)
			}
		}
		if r, _ := f.Get(ctx, 1); r.Name != "v1" {
			t.Fatalf("Get = %+v", r)
		}
		write("v2")
		en, rel := make(chan struct{}), make(chan struct{})
		mu.Lock()
		entered, release = en, rel
		mu.Unlock()
		first := make(chan entity)
		go func() { r, _ := f.Get(ctx, 1); first <- r }() // reloads, reads v2
		<-en
		write("v3") // completes before the next call begins
		second := make(chan entity)
		go func() { r, _ := f.Get(ctx, 1); second <- r }()
		synctest.Wait() // the second caller waits for the reload in progress
		close(rel)
		<-first // concurrent with the write of v3: v2 is fine
		if r := <-second; r.Name != "v3" {
			t.Fatalf("a Get that began after v3 was written and its tag invalidated returned %q, want v3", r.Name)
		}
	})
}

// TestRegressionTaggedValuesShareKeysWithUntaggedOnes: adding //cached:tags to a get changes
// what its function stores (a decorator.Tagged envelope instead of the value) but not its
// keys. During a rolling deploy the old instances store plain values and the new ones read
// them as envelopes; encoding/json decodes the foreign shape without error into an empty
// envelope, which has no tags and so is "valid": the new instance serves a zero value as
// a hit (and the old instances serve zero values read from envelopes). Tagged values need
// a key space of their own (or an envelope that cannot decode from a plain value).
func TestRegressionTaggedValuesShareKeysWithUntaggedOnes(t *testing.T) {
	st := newRVStore()
	tb := &table{rows: map[int64]entity{1: {1, "ann"}}}
	ctx := context.Background()
	old := cached.NewFunc(newCache(t, cached.WithStore(st)), "row", tb.byID)
	if r, err := old.Get(ctx, 1); err != nil || r.Name != "ann" {
		t.Fatalf("old instance: Get = %+v, %v", r, err)
	}
	tagged := decorator.NewTaggedFunc(newCache(t, cached.WithStore(st)), "row", tb.byID, rvTagOf)
	if r, err := tagged.Get(ctx, 1); err != nil || r != (entity{1, "ann"}) {
		t.Fatalf("new (tagged) instance reading what the old one stored: %+v, %v; want {1 ann}", r, err)
	}
}

// rvGuard is a Guard that knows a fixed set of keys (a Bloom filter of the ids that exist,
// filled at start-up) and learns the ones loaded or written.
type rvGuard struct {
	mu   sync.Mutex
	keys map[string]bool
}

func (g *rvGuard) MayExist(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys[key]
}

func (g *rvGuard) Add(key string) {
	g.mu.Lock()
	g.keys[key] = true
	g.mu.Unlock()
}

// TestRegressionCacheGuardDefeatsTaggedFunctions: a Guard given to New guards every function
// of the Cache, the tag records' "cached.tags" included. A tag that was never invalidated
// is not a key the Guard knows, so reading its record is a not-found error, which Tags
// takes for "cannot tell": every read of a tagged value reloads it. The cache silently
// stops caching tagged functions (and the loader takes every call).
func TestRegressionCacheGuardDefeatsTaggedFunctions(t *testing.T) {
	tb := &table{rows: map[int64]entity{1: {1, "ann"}}}
	c := newCache(t, cached.WithGuard(&rvGuard{keys: map[string]bool{"1": true}}))
	f := decorator.NewTaggedFunc(c, "row", tb.byID, rvTagOf)
	ctx := context.Background()
	for range 3 {
		if r, err := f.Get(ctx, 1); err != nil || r.Name != "ann" {
			t.Fatalf("Get = %+v, %v", r, err)
		}
	}
	if n := tb.count(); n != 1 {
		t.Fatalf("3 reads of a cached, never invalidated key loaded it %d times, want 1", n)
	}
}

// TestRegressionTagsKeepTheirCacheAlive: TagsOf keys its registry by a weak pointer to the
// Cache and deletes the entry in a cleanup once the Cache is unreachable, but the entry's
// value (the *Tags) holds the "cached.tags" Func, which holds the Cache: the Cache stays
// reachable from the global registry forever, the cleanup never runs, and every Cache
// given to TagsOf (with its in-process tiers, which Close does not empty) leaks. A Cache
// never given to TagsOf is collected (checked first).
func TestRegressionTagsKeepTheirCacheAlive(t *testing.T) {
	collected := func(withTags bool) bool {
		c := cached.New()
		if withTags {
			_ = decorator.TagsOf(c)
		}
		c.Close()
		wp := weak.Make(c)
		c = nil
		for range 5 {
			runtime.GC()
			if wp.Value() == nil {
				return true
			}
		}
		return false
	}
	if !collected(false) {
		t.Fatal("control: a closed Cache never given to TagsOf is not collected either; the test cannot tell")
	}
	if !collected(true) {
		t.Fatal("a closed, unreferenced Cache given to TagsOf is never collected: the registry's value holds it")
	}
}

package cached_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/cachedgo/cached"
)

// batchLoader records the keys of each call and answers ids below 100.
type batchLoader struct {
	mu    sync.Mutex // protects calls
	calls [][]int64
	block chan struct{} // when set, each call waits for it
}

func (b *batchLoader) load(_ context.Context, ids []int64) (map[int64]user, error) {
	b.mu.Lock()
	b.calls = append(b.calls, slices.Sorted(slices.Values(ids)))
	b.mu.Unlock()
	if b.block != nil {
		<-b.block
	}
	m := make(map[int64]user)
	for _, id := range ids {
		if id < 100 {
			m[id] = user{ID: id}
		}
	}
	return m, nil
}

func (b *batchLoader) got() [][]int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

// TestWrapBatchLoadsOnlyMissing: cached keys are answered from the cache, and the loader
// is called once with only the missing ones.
func TestWrapBatchLoadsOnlyMissing(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		t.Run(map[bool]string{false: "local", true: "store"}[withStore], func(t *testing.T) {
			var opts []cached.Option
			if withStore {
				opts = append(opts, cached.WithStore(newMemStore()))
			}
			c := newCache(t, opts...)
			bl := &batchLoader{}
			get := cached.WrapBatch(c, "users", bl.load)
			ctx := context.Background()
			m, err := get(ctx, []int64{1, 2, 3})
			if err != nil || len(m) != 3 {
				t.Fatalf("first: got %v, %v", m, err)
			}
			m, err = get(ctx, []int64{2, 3, 4, 5, 5, 404})
			if err != nil {
				t.Fatal(err)
			}
			if keys := slices.Sorted(maps.Keys(m)); !slices.Equal(keys, []int64{2, 3, 4, 5}) {
				t.Errorf("result keys = %v; want 2 3 4 5 (404 does not exist)", keys)
			}
			want := [][]int64{{1, 2, 3}, {4, 5, 404}}
			if got := bl.got(); !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("loader calls = %v; want %v", got, want)
			}
			// 404 is now a cached not-found: no call at all.
			if _, err := get(ctx, []int64{404, 1}); err != nil || len(bl.got()) != 2 {
				t.Errorf("cached keys and not-found: %d loader calls, err %v; want none", len(bl.got())-2, err)
			}
		})
	}
}

// TestWrapBatchSharesInFlightKeys: a batch joins keys another batch is loading.
func TestWrapBatchSharesInFlightKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		bl := &batchLoader{block: make(chan struct{})}
		get := cached.WrapBatch(c, "users", bl.load)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var wg sync.WaitGroup
		var second map[int64]user
		wg.Go(func() { get(ctx, []int64{1, 2}) })
		synctest.Wait()
		wg.Go(func() { second, _ = get(ctx, []int64{2, 3}) })
		synctest.Wait()
		close(bl.block)
		wg.Wait()
		want := [][]int64{{1, 2}, {3}}
		if got := bl.got(); !slices.EqualFunc(got, want, slices.Equal) {
			t.Errorf("loader calls = %v; want %v (2 shared)", got, want)
		}
		if len(second) != 2 || second[2].ID != 2 || second[3].ID != 3 {
			t.Errorf("second batch = %v; want 2 and 3", second)
		}
	})
}

func TestWrapBatchErrorIsNotCached(t *testing.T) {
	c := newCache(t)
	boom := errors.New("boom")
	calls := 0
	get := cached.WrapBatch(c, "users", func(context.Context, []int64) (map[int64]user, error) {
		calls++
		return nil, boom
	})
	for range 2 {
		if m, err := get(context.Background(), []int64{1}); err != boom || m != nil {
			t.Fatalf("got %v, %v; want nil, the loader's error", m, err)
		}
	}
	if calls != 2 {
		t.Errorf("calls = %d; want 2", calls)
	}
}

// multiStore is a memStore with GetMulti, counting round trips.
type multiStore struct {
	*memStore
	multi int
}

func (s *multiStore) GetMulti(ctx context.Context, keys []string) (map[string]cached.Item, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.multi++
	if s.fail != nil {
		return nil, s.fail
	}
	out := make(map[string]cached.Item)
	for _, k := range keys {
		if m, ok := s.items[k]; ok {
			out[k] = m.it
		}
	}
	return out, nil
}

// TestWrapBatchReadsStoreOnce: keys another instance stored come from one multi-get; the
// loader gets only what the store lacks.
func TestWrapBatchReadsStoreOnce(t *testing.T) {
	store := &multiStore{memStore: newMemStore()}
	other := newCache(t, cached.WithStore(store))
	warm := cached.WrapBatch(other, "users", (&batchLoader{}).load)
	warm(context.Background(), []int64{1, 2})

	c := newCache(t, cached.WithStore(store))
	bl := &batchLoader{}
	m, err := cached.WrapBatch(c, "users", bl.load)(context.Background(), []int64{1, 2, 3})
	if err != nil || len(m) != 3 {
		t.Fatalf("got %v, %v", m, err)
	}
	if got := bl.got(); len(got) != 1 || !slices.Equal(got[0], []int64{3}) {
		t.Errorf("loader calls = %v; want one call for 3", got)
	}
	if store.multi != 2 || store.gets != 0 {
		t.Errorf("multi-gets = %d, gets = %d; want 2 and 0 (one round trip per batch)", store.multi, store.gets)
	}
}

func TestWrapBatchStoreDown(t *testing.T) {
	for _, fb := range []cached.Fallback{cached.FailOpen, cached.FailClosed} {
		t.Run(fallbackName(fb), func(t *testing.T) {
			store := &multiStore{memStore: newMemStore()}
			store.setFail(errDown)
			c := newCache(t, cached.WithStore(store), cached.OnFailure(fb), quiet)
			bl := &batchLoader{}
			m, err := cached.WrapBatch(c, "users", bl.load)(context.Background(), []int64{1, 2})
			if fb == cached.FailOpen && (err != nil || len(m) != 2) {
				t.Errorf("fail open: got %v, %v; want both loaded", m, err)
			}
			if fb == cached.FailClosed && !errors.Is(err, cached.ErrStore) {
				t.Errorf("fail closed: err = %v; want ErrStore", err)
			}
		})
	}
}

// TestFuncBatchSharesTheFunc: the batch form of a Func shares its entries both ways and
// sees its invalidations.
func TestFuncBatchSharesTheFunc(t *testing.T) {
	c := newCache(t)
	bl := &batchLoader{}
	var single int
	f := cached.NewFunc(c, "users", func(_ context.Context, id int64) (user, error) {
		single++
		return user{ID: id}, nil
	})
	batch := f.Batch(bl.load)
	ctx := context.Background()
	if _, err := f.Get(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m, err := batch(ctx, []int64{1, 2})
	if err != nil || len(m) != 2 {
		t.Fatalf("batch: %v, %v", m, err)
	}
	if got := bl.got(); len(got) != 1 || !slices.Equal(got[0], []int64{2}) {
		t.Fatalf("batch loaded %v, want only [2]: key 1 was loaded by Get", got)
	}
	if _, err := f.Get(ctx, 2); err != nil || single != 1 {
		t.Fatalf("Get(2) after the batch loaded it: err %v, single loads %d, want 1", err, single)
	}
	if err := f.Invalidate(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := batch(ctx, []int64{1, 2}); err != nil {
		t.Fatal(err)
	}
	if got := bl.got(); len(got) != 2 || !slices.Equal(got[1], []int64{2}) {
		t.Fatalf("after Invalidate(2) the batch loaded %v, want [[2] [2]]", got)
	}
}

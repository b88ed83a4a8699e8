package bloom_test

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

// idSeq yields the decimal ids from, from+1, ... from+n-1: a stand-in for SELECT id.
func idSeq(from, n int64) iter.Seq[string] {
	return func(yield func(string) bool) {
		for id := from; id < from+n; id++ {
			if !yield(strconv.FormatInt(id, 10)) {
				return
			}
		}
	}
}

// account is the value of the guarded test functions.
type account struct{ ID int64 }

// accounts is a loader over the ids [0, n) that counts its calls and answers
// cached.ErrNotFound for any other id.
type accounts struct {
	n     int64
	calls atomic.Int64
}

func (a *accounts) load(_ context.Context, id int64) (account, error) {
	a.calls.Add(1)
	if id < 0 || id >= a.n {
		return account{}, cached.ErrNotFound
	}
	return account{ID: id}, nil
}

// countStore is a Store in a map that counts its calls.
type countStore struct {
	mu         sync.Mutex // protects the fields below
	items      map[string]cached.Item
	gets, sets int
}

func newCountStore() *countStore { return &countStore{items: make(map[string]cached.Item)} }

func (s *countStore) Get(_ context.Context, key string) (cached.Item, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	it, ok := s.items[key]
	return it, ok, nil
}

func (s *countStore) Set(_ context.Context, key string, it cached.Item, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets++
	s.items[key] = it
	return nil
}

func (s *countStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	return nil
}

func (s *countStore) counts() (gets, sets int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gets, s.sets
}

// countLocker is a Locker that counts its Lock calls and always grants the lock.
type countLocker struct{ locks atomic.Int64 }

func (l *countLocker) Lock(context.Context, string) (cached.Unlocker, error) {
	l.locks.Add(1)
	return nopUnlocker{}, nil
}

type nopUnlocker struct{}

func (nopUnlocker) Unlock(context.Context) error { return nil }
func (nopUnlocker) Fence() uint64                { return 0 }

var quietCache = cached.WithLogger(slog.New(slog.DiscardHandler))

// newCachedTest returns a Cache closed when the test ends.
func newCachedTest(t *testing.T, opts ...cached.Option) *cached.Cache {
	t.Helper()
	c := cached.New(append([]cached.Option{quietCache}, opts...)...)
	t.Cleanup(func() { c.Close() })
	return c
}

// ruledOut returns an id from from upwards that g rules out.
func ruledOut(t *testing.T, g *bloom.Guard, from int64) int64 {
	t.Helper()
	for id := from; id < from+1000; id++ {
		if !g.MayExist(strconv.FormatInt(id, 10)) {
			return id
		}
	}
	t.Fatalf("no id in [%d, %d) is ruled out", from, from+1000)
	return 0
}

func TestGuardRejectsWithoutLoadLockOrStore(t *testing.T) {
	for _, tc := range []struct {
		name     string
		perFunc  bool // WithGuard on the function rather than the Cache
		withPlug bool // a Store and a Locker too
	}{
		{"cache", false, true},
		{"func", true, true},
		{"cache/in-process only", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			g := bloom.New(1000, 0.01)
			if err := g.Fill(ctx, idSeq(0, 100)); err != nil {
				t.Fatal(err)
			}
			store, locker := newCountStore(), &countLocker{}
			var copts, fopts []cached.Option
			if tc.withPlug {
				copts = append(copts, cached.WithStore(store), cached.WithLocker(locker))
			}
			if tc.perFunc {
				fopts = append(fopts, cached.WithGuard(g))
			} else {
				copts = append(copts, cached.WithGuard(g))
			}
			c := newCachedTest(t, copts...)
			src := &accounts{n: 100}
			get := cached.Wrap(c, "account", src.load, fopts...)

			absent := ruledOut(t, g, 1_000_000)
			for range 3 {
				if _, err := get(ctx, absent); !errors.Is(err, cached.ErrNotFound) {
					t.Fatalf("get(%d), ruled out: err = %v; want ErrNotFound", absent, err)
				}
			}
			gets, sets := store.counts()
			if n := src.calls.Load(); n != 0 {
				t.Errorf("loader calls for a ruled-out key = %d; want 0", n)
			}
			if n := locker.locks.Load(); n != 0 {
				t.Errorf("Lock calls for a ruled-out key = %d; want 0", n)
			}
			if gets != 0 || sets != 0 {
				t.Errorf("store gets, sets for a ruled-out key = %d, %d; want 0, 0", gets, sets)
			}
			if got := c.Stats().Funcs["account"].GuardRejects; got != 3 {
				t.Errorf("GuardRejects = %d; want 3", got)
			}

			// A filled key goes the usual way.
			if a, err := get(ctx, 42); err != nil || a.ID != 42 {
				t.Fatalf("get(42) = %v, %v; want {42}, nil", a, err)
			}
			if n := src.calls.Load(); n != 1 {
				t.Errorf("loader calls after a filled key = %d; want 1", n)
			}
			if tc.withPlug {
				if n := locker.locks.Load(); n != 1 {
					t.Errorf("Lock calls after a filled key = %d; want 1", n)
				}
				if _, sets := store.counts(); sets != 1 {
					t.Errorf("store sets after a filled key = %d; want 1", sets)
				}
			}
		})
	}
}

// TestGuardIsPerFunction checks that WithGuard on one function leaves the others of the
// Cache unguarded.
func TestGuardIsPerFunction(t *testing.T) {
	ctx := context.Background()
	g := bloom.New(1000, 0.01)
	g.Fill(ctx, idSeq(0, 100))
	c := newCachedTest(t)
	guarded, plain := &accounts{n: 100}, &accounts{n: 100}
	getGuarded := cached.Wrap(c, "guarded", guarded.load, cached.WithGuard(g))
	getPlain := cached.Wrap(c, "plain", plain.load)
	absent := ruledOut(t, g, 1_000_000)
	if _, err := getGuarded(ctx, absent); !errors.Is(err, cached.ErrNotFound) || guarded.calls.Load() != 0 {
		t.Errorf("guarded: err = %v, loader calls = %d; want ErrNotFound, 0", err, guarded.calls.Load())
	}
	if _, err := getPlain(ctx, absent); !errors.Is(err, cached.ErrNotFound) || plain.calls.Load() != 1 {
		t.Errorf("plain: err = %v, loader calls = %d; want ErrNotFound, 1", err, plain.calls.Load())
	}
	st := c.Stats().Funcs
	if st["guarded"].GuardRejects != 1 || st["plain"].GuardRejects != 0 {
		t.Errorf("GuardRejects: guarded %d, plain %d; want 1, 0", st["guarded"].GuardRejects, st["plain"].GuardRejects)
	}
}

// guardedAccounts returns a guard filled with ids 0 to 99, a function over 100 accounts
// guarded by it (over a Store too, withStore), and an id the guard rules out.
func guardedAccounts(t *testing.T, withStore bool) (*bloom.Guard, *cached.Func[int64, account], *accounts, int64) {
	t.Helper()
	g := bloom.New(1000, 0.01)
	g.Fill(context.Background(), idSeq(0, 100))
	var opts []cached.Option
	if withStore {
		opts = append(opts, cached.WithStore(newCountStore()))
	}
	c := newCachedTest(t, append(opts, cached.WithGuard(g))...)
	src := &accounts{n: 100}
	return g, cached.NewFunc(c, "account", src.load), src, ruledOut(t, g, 100)
}

// TestPutAddsKey checks that a record created after Fill, and Put, is served rather than
// "not found".
func TestPutAddsKey(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		t.Run("store="+strconv.FormatBool(withStore), func(t *testing.T) {
			ctx := context.Background()
			g, f, src, id := guardedAccounts(t, withStore)
			if _, err := f.Get(ctx, id); !errors.Is(err, cached.ErrNotFound) {
				t.Fatalf("Get(%d) before it exists: err = %v; want ErrNotFound", id, err)
			}
			src.n = id + 1 // the record is created, then Put
			if err := f.Put(ctx, id, account{ID: id}); err != nil {
				t.Fatal(err)
			}
			if !g.MayExist(strconv.FormatInt(id, 10)) {
				t.Fatalf("MayExist(%d) after Put = false; want true", id)
			}
			// Dropped from every tier, it is loaded again, not answered "not found".
			if err := f.Invalidate(ctx, id); err != nil {
				t.Fatal(err)
			}
			if a, err := f.Get(ctx, id); err != nil || a.ID != id {
				t.Fatalf("Get(%d) after Put and Invalidate = %v, %v; want {%d}, nil", id, a, err, id)
			}
			if n := src.calls.Load(); n != 1 {
				t.Errorf("loader calls = %d; want 1", n)
			}
		})
	}
}

// TestLoadAddsKey checks that a key loaded once is MayExist afterwards. A Get reaches the
// loader only for a key the guard accepts; Refresh, for a record the caller knows was
// just created, loads whatever the guard says.
func TestLoadAddsKey(t *testing.T) {
	for _, withStore := range []bool{false, true} {
		t.Run("refresh/store="+strconv.FormatBool(withStore), func(t *testing.T) {
			ctx := context.Background()
			g, f, src, id := guardedAccounts(t, withStore)
			src.n = id + 1 // the record is created
			if a, err := f.Refresh(ctx, id); err != nil || a.ID != id {
				t.Fatalf("Refresh(%d) = %v, %v; want {%d}, nil", id, a, err, id)
			}
			if !g.MayExist(strconv.FormatInt(id, 10)) {
				t.Errorf("MayExist(%d) after a successful load = false; want true", id)
			}
		})
	}
	t.Run("get", func(t *testing.T) {
		ctx := context.Background()
		g := bloom.New(1000, 0.01)
		g.Fill(ctx, idSeq(0, 100))
		c := newCachedTest(t, cached.WithGuard(g))
		src := &accounts{n: 100}
		get := cached.Wrap(c, "account", src.load)
		for id := range int64(100) {
			if _, err := get(ctx, id); err != nil {
				t.Fatal(err)
			}
			if !g.MayExist(strconv.FormatInt(id, 10)) {
				t.Fatalf("MayExist(%d) after a load = false; want true", id)
			}
		}
	})
}

// TestGuardSeesArgumentPart checks the key a guard is given for each shape of function:
// what Fill must be fed with.
func TestGuardSeesArgumentPart(t *testing.T) {
	ctx := context.Background()
	g := bloom.New(1000, 0.01)
	c := newCachedTest(t, cached.WithGuard(g))
	byID := cached.NewFunc(c, "byID", func(context.Context, int64) (string, error) { return "", nil })
	byName := cached.NewFunc(c, "byName", func(context.Context, string) (string, error) { return "", nil })
	byPair := cached.NewFunc2(c, "byPair", func(context.Context, int64, string) (string, error) { return "", nil })
	byID.Put(ctx, 42, "")
	byName.Put(ctx, "a:b%c", "")
	byPair.Put(ctx, 7, "x", "")
	for _, want := range []string{"42", "a%3Ab%25c", "7:x"} {
		if !g.MayExist(want) {
			t.Errorf("MayExist(%q) after Put = false; want true", want)
		}
	}
}

func TestFillThenServe(t *testing.T) {
	ctx := context.Background()
	const n = 200_000
	g := bloom.New(n, 0.01)
	if err := g.Fill(ctx, idSeq(0, n)); err != nil {
		t.Fatalf("Fill: %v", err)
	}
	for k := range idSeq(0, n) {
		if !g.MayExist(k) {
			t.Fatalf("MayExist(%q) after Fill = false; want true", k)
		}
	}
	// Keys is an estimate.
	if st := g.Stats(); st.Keys > n*102/100 || st.Keys < n*98/100 {
		t.Errorf("Stats after filling %d keys: Keys %d; want about %d", n, st.Keys, n)
	}
}

// cancelAfter yields ids from 0 up to n-1, calling cancel once it has yielded at, and
// records how many it yielded.
func cancelAfter(n, at int64, cancel func(), yielded *int64) iter.Seq[string] {
	return func(yield func(string) bool) {
		for id := range n {
			if id == at {
				cancel()
			}
			*yielded = id + 1
			if !yield(strconv.FormatInt(id, 10)) {
				return
			}
		}
	}
}

func TestFillCancelled(t *testing.T) {
	for _, tc := range []struct {
		name  string
		n, at int64 // the Source's size, and after how many keys ctx is cancelled
	}{
		{"before", 1000, 0},
		{"during", 1_000_000, 70_000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			g := bloom.New(uint(tc.n), 0.01)
			var yielded int64
			err := g.Fill(ctx, cancelAfter(tc.n, tc.at, cancel, &yielded))
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("Fill with a cancelled ctx = %v; want context.Canceled", err)
			}
			if tc.n > 1000 && yielded == tc.n {
				t.Errorf("Fill read all %d keys after ctx was cancelled at %d; want it to stop early", tc.n, tc.at)
			}
			for k := range idSeq(0, yielded) {
				if !g.MayExist(k) {
					t.Fatalf("MayExist(%q) = false; want true: the keys added before the cancellation stay", k)
				}
			}
			t.Logf("cancelled after %d keys: Fill read %d", tc.at, yielded)
		})
	}
}

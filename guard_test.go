package cached_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/cachedgo/cached"
)

// setGuard is an exact Guard on a set, recording what was added.
type setGuard struct {
	mu   sync.Mutex // protects keys
	keys map[string]bool
}

func (g *setGuard) MayExist(key string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.keys[key]
}

func (g *setGuard) Add(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.keys[key] = true
}

func TestGuardRejectsWithoutLoad(t *testing.T) {
	g := &setGuard{keys: map[string]bool{"1": true}}
	store := newMemStore()
	c := newCache(t, cached.WithGuard(g), cached.WithStore(store))
	l := countingLoader(func(_ context.Context, id int64) (user, error) { return user{ID: id}, nil })
	f := cached.NewFunc(c, "user", l.load)
	ctx := context.Background()
	if _, err := f.Get(ctx, 2); !errors.Is(err, cached.ErrNotFound) {
		t.Fatalf("ruled-out key: err = %v; want ErrNotFound", err)
	}
	if l.calls.Load() != 0 || store.gets != 0 || store.sets != 0 {
		t.Errorf("ruled-out key reached loader (%d) or store (%d gets, %d sets)", l.calls.Load(), store.gets, store.sets)
	}
	if u, err := f.Get(ctx, 1); err != nil || u.ID != 1 {
		t.Errorf("known key: got %v, %v", u, err)
	}
	f.Put(ctx, 3, user{ID: 3})
	if !g.MayExist("3") {
		t.Errorf("Put did not add its key to the guard")
	}
	if st := c.Stats().Funcs["user"]; st.GuardRejects != 1 {
		t.Errorf("GuardRejects = %d; want 1", st.GuardRejects)
	}
}

var errNoRows = errors.New("no rows in result set") // a repository's not-found error

// TestNotFoundErrorOnGuardAndStore: with NotFoundError, a guard rejection and a not-found
// result read back from the Store carry the function's own not-found error.
func TestNotFoundErrorOnGuardAndStore(t *testing.T) {
	g := &setGuard{keys: map[string]bool{"1": true}}
	store := newMemStore()
	c := newCache(t, cached.WithGuard(g), cached.WithStore(store), cached.NotFoundError(errNoRows),
		cached.NotFound(func(err error) bool { return errors.Is(err, errNoRows) }), cached.LocalSize(0))
	get := cached.Wrap(c, "user", func(context.Context, int64) (user, error) { return user{}, errNoRows })
	ctx := context.Background()
	if _, err := get(ctx, 2); !errors.Is(err, errNoRows) || !errors.Is(err, cached.ErrNotFound) {
		t.Errorf("guard rejection: err = %v; want it to match errNoRows and ErrNotFound", err)
	}
	if _, err := get(ctx, 1); !errors.Is(err, errNoRows) { // loaded: cached negative
		t.Fatalf("load: err = %v", err)
	}
	if _, err := get(ctx, 1); !errors.Is(err, errNoRows) || !errors.Is(err, cached.ErrNotFound) {
		t.Errorf("not-found result from the Store: err = %v; want it to match errNoRows and ErrNotFound", err)
	}
}

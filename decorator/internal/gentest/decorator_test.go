package gentest

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/decorator"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newCache(t *testing.T, opts ...cached.Option) *cached.Cache {
	t.Helper()
	c := cached.New(opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

func seed() []*User {
	return []*User{
		{ID: 1, Email: "ann@example.com", Name: "ann", OrgID: 7},
		{ID: 2, Email: "bob@example.com", Name: "bob", OrgID: 7},
		{ID: 3, Email: "cy@example.com", Name: "cy", OrgID: 8},
	}
}

func setup(t *testing.T, opts ...decorator.Option) (*memRepo, *CachedUserRepo) {
	t.Helper()
	mem := newMemRepo(seed()...)
	return mem, NewCachedUserRepo(newCache(t), mem, opts...)
}

func want(t *testing.T, mem *memRepo, method string, n int) {
	t.Helper()
	if got := mem.count(method); got != n {
		t.Fatalf("%s reached the repository %d times, want %d", method, got, n)
	}
}

// TestGetIsCached: repeated reads reach the repository once, for each shape of key.
func TestGetIsCached(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	for range 3 {
		u, err := r.GetUser(ctx, 1)
		if err != nil || u.Name != "ann" {
			t.Fatalf("GetUser(1) = %+v, %v", u, err)
		}
		if u, err := r.GetUserByEmail(ctx, "bob@example.com"); err != nil || u.ID != 2 {
			t.Fatalf("GetUserByEmail = %+v, %v", u, err)
		}
		if n, err := r.CountUsers(ctx); err != nil || n != 3 {
			t.Fatalf("CountUsers = %d, %v", n, err)
		}
		if ok, err := r.IsMember(ctx, 7, 1); err != nil || !ok {
			t.Fatalf("IsMember(7, 1) = %v, %v", ok, err)
		}
		if ids, err := r.Search(ctx, 7, "", 10); err != nil || !slices.Equal(ids, []int64{1, 2}) {
			t.Fatalf("Search = %v, %v", ids, err)
		}
	}
	for _, m := range []string{"GetUser", "GetUserByEmail", "CountUsers", "IsMember", "Search"} {
		want(t, mem, m, 1)
	}
	// Distinct arguments are distinct keys.
	if ok, _ := r.IsMember(ctx, 8, 1); ok {
		t.Fatal("IsMember(8, 1) = true")
	}
	if ids, _ := r.Search(ctx, 7, "b", 10); !slices.Equal(ids, []int64{2}) {
		t.Fatalf("Search(7, b) = %v", ids)
	}
	want(t, mem, "IsMember", 2)
	want(t, mem, "Search", 2)
}

// TestKeyExpression: Find is keyed by q.OrgID and q.Name only, and called with the
// caller's query.
func TestKeyExpression(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	for _, tags := range [][]string{{"x"}, nil, {"y", "z"}} {
		u, err := r.Find(ctx, Query{OrgID: 7, Name: "bob", Tags: tags})
		if err != nil || u.ID != 2 {
			t.Fatalf("Find = %+v, %v", u, err)
		}
	}
	want(t, mem, "Find", 1)
	if _, err := r.Find(ctx, Query{OrgID: 7, Name: "ann"}); err != nil {
		t.Fatal(err)
	}
	want(t, mem, "Find", 2)
}

// TestNotFoundIsCachedAsTheRepositoryError: a missing user is looked up once and keeps
// matching the repository's own error.
func TestNotFoundIsCachedAsTheRepositoryError(t *testing.T) {
	mem, r := setup(t)
	for range 3 {
		_, err := r.GetUser(context.Background(), 99)
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("GetUser(99) = %v, want ErrNotFound", err)
		}
	}
	want(t, mem, "GetUser", 1)
}

// TestErrorsAreUntouched: other errors come back as the repository returned them and are
// not cached; a failed write evicts nothing and returns its error unchanged.
func TestErrorsAreUntouched(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	mem.failNext("GetUser", errBoom)
	if _, err := r.GetUser(ctx, 1); err != errBoom {
		t.Fatalf("GetUser = %v, want errBoom itself", err)
	}
	if u, err := r.GetUser(ctx, 1); err != nil || u.ID != 1 {
		t.Fatalf("GetUser after the error = %+v, %v: the error was cached", u, err)
	}
	want(t, mem, "GetUser", 2)

	mem.failNext("UpdateUser", errBoom)
	if err := r.UpdateUser(ctx, &User{ID: 1, Email: "new@example.com", Name: "ann"}); err != errBoom {
		t.Fatalf("UpdateUser = %v, want errBoom itself", err)
	}
	if _, err := r.GetUser(ctx, 1); err != nil {
		t.Fatal(err)
	}
	want(t, mem, "GetUser", 2) // still cached: the write failed

	mem.failNext("CreateUser", errBoom)
	if u, err := r.CreateUser(ctx, "x@example.com", "x"); err != errBoom || u != nil {
		t.Fatalf("CreateUser = %+v, %v, want nil, errBoom", u, err)
	}
}

// TestTagEvictsEveryKeyOfTheEntity: a user cached by id and by email is evicted under
// both after an update that knows only its id; the old email no longer finds it.
func TestTagEvictsEveryKeyOfTheEntity(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	if _, err := r.GetUser(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetUserByEmail(ctx, "ann@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := r.UpdateUser(ctx, &User{ID: 1, Email: "anne@example.com", Name: "anne", OrgID: 7}); err != nil {
		t.Fatal(err)
	}
	if u, err := r.GetUser(ctx, 1); err != nil || u.Name != "anne" {
		t.Fatalf("GetUser(1) after the update = %+v, %v", u, err)
	}
	if _, err := r.GetUserByEmail(ctx, "ann@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUserByEmail(old email) after the update: %v, want ErrNotFound", err)
	}
	if u, err := r.GetUserByEmail(ctx, "anne@example.com"); err != nil || u.ID != 1 {
		t.Fatalf("GetUserByEmail(new email) = %+v, %v", u, err)
	}
	want(t, mem, "GetUser", 2)
	want(t, mem, "GetUserByEmail", 3)
	// Other users' entries are untouched.
	if _, err := r.GetUser(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetUser(ctx, 2); err != nil {
		t.Fatal(err)
	}
	want(t, mem, "GetUser", 3)
}

// TestPutStoresWhatTheWriteReturned: a created user is served without a read, and the
// count is evicted.
func TestPutStoresWhatTheWriteReturned(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	if n, _ := r.CountUsers(ctx); n != 3 {
		t.Fatalf("CountUsers = %d", n)
	}
	u, err := r.CreateUser(ctx, "dee@example.com", "dee")
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.GetUser(ctx, u.ID)
	if err != nil || got.Email != "dee@example.com" {
		t.Fatalf("GetUser(created) = %+v, %v", got, err)
	}
	want(t, mem, "GetUser", 0)
	if n, _ := r.CountUsers(ctx); n != 4 {
		t.Fatalf("CountUsers after CreateUser = %d, want 4", n)
	}
	want(t, mem, "CountUsers", 2)
}

// TestBatchSharesTheFunction: the batch and the single read share entries both ways, a
// missing id is left out, and a tag eviction reaches batch reads.
func TestBatchSharesTheFunction(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	if _, err := r.GetUser(ctx, 1); err != nil {
		t.Fatal(err)
	}
	m, err := r.GetUsers(ctx, []int64{1, 2, 3, 99})
	if err != nil || len(m) != 3 || m[99] != nil || m[2].Name != "bob" {
		t.Fatalf("GetUsers = %v, %v", m, err)
	}
	if _, err := r.GetUser(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetUsers(ctx, []int64{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	want(t, mem, "GetUser", 1)
	want(t, mem, "GetUsers", 1)
	if err := r.UpdateUser(ctx, &User{ID: 2, Email: "bob@example.com", Name: "robert", OrgID: 7}); err != nil {
		t.Fatal(err)
	}
	m, err = r.GetUsers(ctx, []int64{1, 2})
	if err != nil || m[2].Name != "robert" || m[1].Name != "ann" {
		t.Fatalf("GetUsers after the update = %v, %v", m, err)
	}
	want(t, mem, "GetUsers", 2)
	if u, _ := r.GetUser(ctx, 2); u.Name != "robert" {
		t.Fatalf("GetUser(2) = %+v", u)
	}
	want(t, mem, "GetUser", 1)
}

// TestEvictBeforeTheCall: before=true evicts even when the write fails, and evicts each
// key of a slice.
func TestEvictBeforeTheCall(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	for _, id := range []int64{1, 2} {
		if _, err := r.GetUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	mem.failNext("DeleteUsers", errBoom)
	if _, err := r.DeleteUsers(ctx, 1, 2); err != errBoom {
		t.Fatalf("DeleteUsers = %v, want errBoom", err)
	}
	for _, id := range []int64{1, 2} {
		if _, err := r.GetUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	want(t, mem, "GetUser", 4) // both evicted although the write failed
	if n, err := r.DeleteUsers(ctx, 1); err != nil || n != 1 {
		t.Fatalf("DeleteUsers(1) = %d, %v", n, err)
	}
	if _, err := r.GetUser(ctx, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUser(1) after the delete: %v, want ErrNotFound", err)
	}
}

// TestEvictComposite: a write evicts keys of a two-argument and of a composite function.
func TestEvictComposite(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	if ok, _ := r.IsMember(ctx, 8, 1); ok {
		t.Fatal("IsMember(8, 1) before the join")
	}
	if ids, _ := r.Search(ctx, 8, "", 10); !slices.Equal(ids, []int64{3}) {
		t.Fatalf("Search(8) = %v", ids)
	}
	if err := r.Join(ctx, 8, 1); err != nil {
		t.Fatal(err)
	}
	if ok, _ := r.IsMember(ctx, 8, 1); !ok {
		t.Fatal("IsMember(8, 1) after the join: stale")
	}
	if ids, _ := r.Search(ctx, 8, "", 10); !slices.Equal(ids, []int64{1, 3}) {
		t.Fatalf("Search(8) after the join = %v: stale", ids)
	}
	want(t, mem, "IsMember", 2)
	want(t, mem, "Search", 2)
}

// TestPassThrough: methods without annotations reach the implementation each time, with
// their results unchanged.
func TestPassThrough(t *testing.T) {
	mem, r := setup(t)
	ctx := context.Background()
	for range 2 {
		if err := r.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if n := r.Names(); !slices.Equal(n, []string{"mem"}) {
			t.Fatalf("Names = %v", n)
		}
	}
	mem.failNext("Ping", errBoom)
	if err := r.Ping(ctx); err != errBoom {
		t.Fatalf("Ping = %v, want errBoom", err)
	}
	want(t, mem, "Ping", 3)
	want(t, mem, "Names", 2)
}

// slowEmail wraps memRepo so that the first GetUserByEmail reads the row, then waits.
type slowEmail struct {
	*memRepo
	once          sync.Once
	read, release chan struct{}
}

func (s *slowEmail) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	u, err := s.memRepo.GetUserByEmail(ctx, email)
	s.once.Do(func() {
		close(s.read)
		<-s.release
	})
	return u, err
}

// TestTagInvalidationDuringALoad: a load that read the row before an update and finished
// after it is never served: not to its own caller, which gets the row as it is now, nor
// afterwards.
func TestTagInvalidationDuringALoad(t *testing.T) {
	mem := newMemRepo(seed()...)
	slow := &slowEmail{memRepo: mem, read: make(chan struct{}), release: make(chan struct{})}
	r := NewCachedUserRepo(newCache(t), slow)
	ctx := context.Background()
	done := make(chan error)
	go func() {
		_, err := r.GetUserByEmail(ctx, "ann@example.com")
		done <- err
	}()
	<-slow.read
	if err := r.UpdateUser(ctx, &User{ID: 1, Email: "anne@example.com", Name: "anne", OrgID: 7}); err != nil {
		t.Fatal(err)
	}
	close(slow.release)
	if err := <-done; !errors.Is(err, ErrNotFound) {
		t.Fatalf("the straddling call's own answer: %v, want ErrNotFound (the email changed)", err)
	}
	if u, err := r.GetUserByEmail(ctx, "ann@example.com"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetUserByEmail(old email) = %+v, %v: the load that straddled the update was served", u, err)
	}
	want(t, mem, "GetUserByEmail", 2)
}

// failingStore fails every call: the Store of a fleet that is down.
type failingStore struct{}

func (failingStore) Get(context.Context, string) (cached.Item, bool, error) {
	return cached.Item{}, false, errBoom
}
func (failingStore) Set(context.Context, string, cached.Item, time.Duration) error { return errBoom }
func (failingStore) Delete(context.Context, string) error                          { return errBoom }

// TestCacheFailuresDoNotFailWrites: with the Store down, reads go to the repository,
// writes succeed, and OnError hears about each failed cache write.
func TestCacheFailuresDoNotFailWrites(t *testing.T) {
	mem := newMemRepo(seed()...)
	var failed []string
	quiet := cached.WithLogger(slog.New(slog.DiscardHandler))
	r := NewCachedUserRepo(newCache(t, cached.WithStore(failingStore{}), quiet), mem,
		decorator.OnError(func(method string, err error) {
			if !errors.Is(err, cached.ErrStore) {
				t.Errorf("OnError(%s, %v): want an error wrapping ErrStore", method, err)
			}
			failed = append(failed, method)
		}))
	ctx := context.Background()
	if u, err := r.GetUser(ctx, 1); err != nil || u.ID != 1 {
		t.Fatalf("GetUser with the Store down = %+v, %v", u, err)
	}
	if err := r.UpdateUser(ctx, &User{ID: 1, Email: "a@example.com"}); err != nil {
		t.Fatalf("UpdateUser with the Store down = %v", err)
	}
	if _, err := r.CreateUser(ctx, "z@example.com", "z"); err != nil {
		t.Fatalf("CreateUser with the Store down = %v", err)
	}
	if !slices.Contains(failed, "UpdateUser") || !slices.Contains(failed, "CreateUser") {
		t.Fatalf("OnError heard %v, want UpdateUser and CreateUser", failed)
	}
	// The invalidation holds in this process although the Store did not take it.
	if u, err := r.GetUserByEmail(ctx, "a@example.com"); err != nil || u.ID != 1 {
		t.Fatalf("GetUserByEmail(new) = %+v, %v", u, err)
	}
}

// TestOptions: For and With reach the named functions, after the annotations.
func TestOptions(t *testing.T) {
	mem := newMemRepo(seed()...)
	r := NewCachedUserRepo(newCache(t), mem,
		decorator.With(cached.LocalSize(0)),            // no in-process tier anywhere
		decorator.For("count", cached.LocalSize(1000)), // except for count
	)
	ctx := context.Background()
	for range 2 {
		if _, err := r.GetUser(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := r.CountUsers(ctx); err != nil {
			t.Fatal(err)
		}
	}
	want(t, mem, "GetUser", 2)
	want(t, mem, "CountUsers", 1)
}

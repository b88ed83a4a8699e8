package cached_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/jitter"
)

type User struct {
	ID   int64
	Name string
}

type UserRepo struct{ queries int }

func (r *UserRepo) GetUser(_ context.Context, id int64) (User, error) {
	r.queries++
	if id == 0 {
		return User{}, cached.ErrNotFound
	}
	return User{ID: id, Name: fmt.Sprint("user ", id)}, nil
}

func (r *UserRepo) GetUsers(_ context.Context, ids []int64) (map[int64]User, error) {
	r.queries++
	m := make(map[int64]User, len(ids))
	for _, id := range ids {
		if id != 0 {
			m[id] = User{ID: id, Name: fmt.Sprint("user ", id)}
		}
	}
	return m, nil
}

func ExampleWrap() {
	c := cached.New()
	defer c.Close()
	repo := &UserRepo{}

	getUser := cached.Wrap(c, "user", repo.GetUser) // func(context.Context, int64) (User, error)

	ctx := context.Background()
	u, _ := getUser(ctx, 42)
	u, _ = getUser(ctx, 42) // served from process memory
	fmt.Println(u.Name, "- queries:", repo.queries)

	_, err := getUser(ctx, 0)
	_, err = getUser(ctx, 0) // the not-found result is cached too
	fmt.Println(errors.Is(err, cached.ErrNotFound), "- queries:", repo.queries)
	// Output:
	// user 42 - queries: 1
	// true - queries: 2
}

func ExampleNewFunc() {
	c := cached.New(cached.TTL(10*time.Minute), cached.Jitter(jitter.Range(0, time.Minute)))
	defer c.Close()
	repo := &UserRepo{}
	users := cached.NewFunc(c, "user", repo.GetUser, cached.StaleWhileRevalidate(time.Minute))

	ctx := context.Background()
	users.Get(ctx, 7)

	// After an update, store the new value (or Invalidate the key) so that no reader
	// sees the old one; a load in flight meanwhile is not stored over it.
	users.Put(ctx, 7, User{ID: 7, Name: "renamed"})
	u, _ := users.Get(ctx, 7)
	fmt.Println(u.Name, "- queries:", repo.queries)

	users.Invalidate(ctx, 7)
	u, _ = users.Get(ctx, 7)
	fmt.Println(u.Name, "- queries:", repo.queries)
	// Output:
	// renamed - queries: 1
	// user 7 - queries: 2
}

func ExampleWrapBatch() {
	c := cached.New()
	defer c.Close()
	repo := &UserRepo{}
	getUsers := cached.WrapBatch(c, "user-batch", repo.GetUsers)

	ctx := context.Background()
	getUsers(ctx, []int64{1, 2})
	m, _ := getUsers(ctx, []int64{1, 2, 3, 0}) // one query, for 3 and 0 only; 0 does not exist
	fmt.Println(slices.Sorted(maps.Keys(m)), "- queries:", repo.queries)
	// Output:
	// [1 2 3] - queries: 2
}

func ExampleWrap2() {
	c := cached.New()
	defer c.Close()
	hasPermission := cached.Wrap2(c, "perm", func(_ context.Context, user, action string) (bool, error) {
		return user == "admin" || action == "read", nil
	})
	ok, _ := hasPermission(context.Background(), "bob", "delete")
	fmt.Println(ok)
	// Output: false
}

func ExampleCache_Stats() {
	c := cached.New()
	defer c.Close()
	getUser := cached.Wrap(c, "user", (&UserRepo{}).GetUser)
	ctx := context.Background()
	for range 3 {
		getUser(ctx, 1)
	}
	s := c.Stats().Funcs["user"]
	fmt.Printf("hits=%d misses=%d loads=%d\n", s.Hits, s.Misses, s.Loads)
	// Output: hits=2 misses=1 loads=1
}

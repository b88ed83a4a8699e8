package bloom_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strconv"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

// userIDs stands in for SELECT id FROM users: the ids 1 to 1000.
func userIDs() iter.Seq[string] {
	return func(yield func(string) bool) {
		for id := int64(1); id <= 1000; id++ {
			if !yield(strconv.FormatInt(id, 10)) {
				return
			}
		}
	}
}

type User struct {
	ID   int64
	Name string
}

func Example() {
	ctx := context.Background()

	// Size the guard for the table, and fill it before serving.
	g := bloom.New(10_000, 0.01)
	defer g.Close()
	if err := g.Fill(ctx, userIDs()); err != nil {
		panic(err)
	}

	calls := 0
	getUser := func(ctx context.Context, id int64) (User, error) {
		calls++ // a database query
		if id < 1 || id > 1000 {
			return User{}, cached.ErrNotFound
		}
		return User{ID: id, Name: "user" + strconv.FormatInt(id, 10)}, nil
	}

	c := cached.New()
	defer c.Close()
	get := cached.Wrap(c, "user", getUser, cached.WithGuard(g))

	u, err := get(ctx, 42)
	fmt.Println(u.Name, err, calls)

	// An id that was never filled is "not found" without a query (ids in a flood of
	// made-up ones are, but for about 1% false positives, which reach the loader).
	_, err = get(ctx, -7)
	fmt.Println(errors.Is(err, cached.ErrNotFound), calls)
	fmt.Println("rejected:", c.Stats().Funcs["user"].GuardRejects)
	// Output:
	// user42 <nil> 1
	// true 1
	// rejected: 1
}

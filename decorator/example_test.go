package decorator_test

import (
	"context"
	"fmt"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/decorator"
)

// Advice composes around one function: logging outside the cache sees every call,
// counting inside it sees only the loads.
func ExampleChain() {
	c := cached.New()
	defer c.Close()

	var calls, queries int
	getName := decorator.Chain(
		decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (string, error)) (string, error) {
			calls++
			return proceed(ctx, id)
		}),
		decorator.Cached[int64, string](c, "name"),
		decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (string, error)) (string, error) {
			queries++
			return proceed(ctx, id)
		}),
	)(func(_ context.Context, id int64) (string, error) {
		return fmt.Sprintf("user %d", id), nil
	})

	for _, id := range []int64{1, 2, 1, 1, 2} {
		name, _ := getName(context.Background(), id)
		fmt.Println(name)
	}
	fmt.Printf("%d calls, %d queries\n", calls, queries)
	// Output:
	// user 1
	// user 2
	// user 1
	// user 1
	// user 2
	// 5 calls, 2 queries
}

// A tag names an entity cached under several keys; invalidating it invalidates them all.
func ExampleTags() {
	c := cached.New()
	defer c.Close()

	emails := map[int64]string{1: "ann@example.com"}
	byEmail := decorator.NewTaggedFunc(c, "userByEmail",
		func(_ context.Context, email string) (int64, error) {
			for id, e := range emails {
				if e == email {
					return id, nil
				}
			}
			return 0, cached.ErrNotFound
		},
		func(email string, id int64) []string { return []string{"user:" + decorator.Key(id)} },
	)
	ctx := context.Background()
	id, _ := byEmail.Get(ctx, "ann@example.com")
	fmt.Println("found", id)

	emails[1] = "anne@example.com" // the update knows the id, not the old email
	_ = decorator.TagsOf(c).Invalidate(ctx, "user:1")

	_, err := byEmail.Get(ctx, "ann@example.com")
	fmt.Println(err != nil)
	// Output:
	// found 1
	// true
}

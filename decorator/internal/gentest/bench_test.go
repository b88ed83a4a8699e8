package gentest

import (
	"context"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/decorator"
)

// BenchmarkHit compares an in-process hit through the generated decorator with the same
// hit through the engine directly: "engine" is cached.NewFunc2's Get, "generated" the
// decorator's IsMember over the same kind of function, "tagged" its GetUser, whose value
// also checks its tag's record, and "chain" a Chain of Around, Cached and Around.
func BenchmarkHit(b *testing.B) {
	ctx := context.Background()
	mem := newMemRepo(seed()...)
	c := cached.New()
	defer c.Close()
	r := NewCachedUserRepo(c, mem)
	engine := cached.NewFunc2(c, "bench.member", mem.IsMember)
	pass := func(ctx context.Context, id int64, proceed func(context.Context, int64) (*User, error)) (*User, error) {
		return proceed(ctx, id)
	}
	chain := decorator.Chain(decorator.Around(pass), decorator.Cached[int64, *User](c, "bench.user"), decorator.Around(pass))(mem.GetUser)
	plain := cached.Wrap(c, "bench.user2", mem.GetUser)
	warm := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	_, err := engine.Get(ctx, 7, 1)
	warm(err)
	_, err = r.IsMember(ctx, 7, 1)
	warm(err)
	_, err = r.GetUser(ctx, 1)
	warm(err)
	_, err = chain(ctx, 1)
	warm(err)
	_, err = plain(ctx, 1)
	warm(err)
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			engine.Get(ctx, 7, 1)
		}
	})
	b.Run("generated", func(b *testing.B) {
		for b.Loop() {
			r.IsMember(ctx, 7, 1)
		}
	})
	b.Run("wrap", func(b *testing.B) {
		for b.Loop() {
			plain(ctx, 1)
		}
	})
	b.Run("tagged", func(b *testing.B) {
		for b.Loop() {
			r.GetUser(ctx, 1)
		}
	})
	b.Run("chain", func(b *testing.B) {
		for b.Loop() {
			chain(ctx, 1)
		}
	})
}

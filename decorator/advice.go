package decorator

import (
	"context"

	"github.com/cachedgo/cached"
)

// Decorator is advice around a function of one argument: it takes the function and
// returns one with the same signature that does something before, after or instead of
// calling it. cached.Wrap has this shape too, so cache, metrics, tracing and logging advice
// compose freely with [Chain].
type Decorator[K comparable, V any] func(next func(context.Context, K) (V, error)) func(context.Context, K) (V, error)

// Chain returns the decorators as one, the first outermost, as chi's middleware chain
// runs: Chain(a, b, c)(fn) is a(b(c(fn))), so a call goes through a, then b, then c, then
// fn. Chain() returns fn unchanged; nil decorators are skipped.
func Chain[K comparable, V any](ds ...Decorator[K, V]) Decorator[K, V] {
	return func(next func(context.Context, K) (V, error)) func(context.Context, K) (V, error) {
		for i := len(ds) - 1; i >= 0; i-- {
			if ds[i] != nil {
				next = ds[i](next)
			}
		}
		return next
	}
}

// Cached is the cache as advice: Cached(c, name, opts...)(fn) is cached.Wrap(c, name,
// fn, opts...). Advice placed before it in a [Chain] sees every call, hits included;
// advice placed after it sees only the loads.
func Cached[K comparable, V any](c *cached.Cache, name string, opts ...cached.Option) Decorator[K, V] {
	return func(next func(context.Context, K) (V, error)) func(context.Context, K) (V, error) {
		return cached.Wrap(c, name, next, opts...)
	}
}

// Around turns a function that surrounds a call into advice. advice receives the call's
// context and argument and proceed, the function it decorates; it may act before the
// call, change the context or the argument, call proceed any number of times (once is
// usual), and inspect or replace the result and the error:
//
//	timed := decorator.Around(func(ctx context.Context, id int64, proceed func(context.Context, int64) (*User, error)) (*User, error) {
//		start := time.Now()
//		u, err := proceed(ctx, id)
//		latency.Observe(time.Since(start).Seconds())
//		return u, err
//	})
//
// Around panics if advice is nil.
func Around[K comparable, V any](advice func(ctx context.Context, k K, proceed func(context.Context, K) (V, error)) (V, error)) Decorator[K, V] {
	if advice == nil {
		panic("decorator: Around(nil)")
	}
	return func(next func(context.Context, K) (V, error)) func(context.Context, K) (V, error) {
		return func(ctx context.Context, k K) (V, error) { return advice(ctx, k, next) }
	}
}

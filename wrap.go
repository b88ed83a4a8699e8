package cached

import "context"

// Wrap returns fn with a cache around it: a function with fn's signature, to use in its
// place. It is NewFunc(c, name, fn, opts...).Get; use [NewFunc] to keep the [Func] for
// Invalidate, Put and Refresh.
func Wrap[K comparable, V any](c *Cache, name string, fn func(context.Context, K) (V, error), opts ...Option) func(context.Context, K) (V, error) {
	return NewFunc(c, name, fn, opts...).Get
}

// Wrap0 is [Wrap] for a function without arguments (a configuration, a list of
// countries): one cached value.
func Wrap0[V any](c *Cache, name string, fn func(context.Context) (V, error), opts ...Option) func(context.Context) (V, error) {
	if fn == nil {
		panic("cached: Wrap0(" + name + "): nil function")
	}
	cfg := c.funcConfig(name, opts)
	f := newFunc(c, name, func(ctx context.Context, _ struct{}) (V, error) { return fn(ctx) },
		cfg, noArgs(), func(struct{}) []any { return nil })
	return func(ctx context.Context) (V, error) { return f.Get(ctx, struct{}{}) }
}

// Wrap2 is [Wrap] for a function of two arguments. Both are part of the key, each in its
// own segment, so ("a:b", "c") and ("a", "b:c") never share an entry. A [KeyFunc] may be
// given for either argument's type.
func Wrap2[A, B comparable, V any](c *Cache, name string, fn func(context.Context, A, B) (V, error), opts ...Option) func(context.Context, A, B) (V, error) {
	if fn == nil {
		panic("cached: Wrap2(" + name + "): nil function")
	}
	cfg := c.funcConfig(name, opts)
	ka := mustKeyCodec[A]("Wrap2("+name+")", cfg.keyFuncs)
	kb := mustKeyCodec[B]("Wrap2("+name+")", cfg.keyFuncs)
	f := newFunc(c, name, func(ctx context.Context, p pair[A, B]) (V, error) { return fn(ctx, p.a, p.b) },
		cfg, pairArgs(ka, kb), func(p pair[A, B]) []any { return []any{p.a, p.b} })
	return func(ctx context.Context, a A, b B) (V, error) { return f.Get(ctx, pair[A, B]{a, b}) }
}

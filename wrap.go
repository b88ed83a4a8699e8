package cached

import "context"

// Wrap returns fn with a cache around it: a function with fn's signature, to use in its
// place. It is NewFunc(c, name, fn, opts...).Get; use [NewFunc] to keep the [Func] for
// Invalidate, Put and Refresh.
func Wrap[K comparable, V any](c *Cache, name string, fn func(context.Context, K) (V, error), opts ...Option) func(context.Context, K) (V, error) {
	return NewFunc(c, name, fn, opts...).Get
}

// Wrap0 is [Wrap] for a function without arguments (a configuration, a list of
// countries): one cached value. It is NewFunc0(c, name, fn, opts...).Get.
func Wrap0[V any](c *Cache, name string, fn func(context.Context) (V, error), opts ...Option) func(context.Context) (V, error) {
	return NewFunc0(c, name, fn, opts...).Get
}

// Wrap2 is [Wrap] for a function of two arguments. Both are part of the key, each in its
// own segment, so ("a:b", "c") and ("a", "b:c") never share an entry. A [KeyFunc] may be
// given for either argument's type. It is NewFunc2(c, name, fn, opts...).Get.
func Wrap2[A, B comparable, V any](c *Cache, name string, fn func(context.Context, A, B) (V, error), opts ...Option) func(context.Context, A, B) (V, error) {
	return NewFunc2(c, name, fn, opts...).Get
}

// Func0 is a function without arguments with a cache around it: [Func] with no key.
// Build one with [NewFunc0]. A Func0 is safe for concurrent use.
type Func0[V any] struct{ f *Func[struct{}, V] }

// NewFunc0 is [NewFunc] for a function without arguments.
func NewFunc0[V any](c *Cache, name string, fn func(context.Context) (V, error), opts ...Option) *Func0[V] {
	if fn == nil {
		panic("cached: NewFunc0(" + name + "): nil function")
	}
	cfg := c.funcConfig(name, opts)
	return &Func0[V]{newFunc(c, name, func(ctx context.Context, _ struct{}) (V, error) { return fn(ctx) },
		cfg, noArgs(), func(struct{}) []any { return nil })}
}

// Get is [Func.Get].
func (f *Func0[V]) Get(ctx context.Context) (V, error) { return f.f.Get(ctx, struct{}{}) }

// Put is [Func.Put].
func (f *Func0[V]) Put(ctx context.Context, v V) error { return f.f.Put(ctx, struct{}{}, v) }

// Invalidate is [Func.Invalidate].
func (f *Func0[V]) Invalidate(ctx context.Context) error { return f.f.Invalidate(ctx, struct{}{}) }

// Refresh is [Func.Refresh].
func (f *Func0[V]) Refresh(ctx context.Context) (V, error) { return f.f.Refresh(ctx, struct{}{}) }

// Func2 is a function of two arguments with a cache around it: [Func] keyed by both.
// Build one with [NewFunc2]. A Func2 is safe for concurrent use.
type Func2[A, B comparable, V any] struct{ f *Func[pair[A, B], V] }

// NewFunc2 is [NewFunc] for a function of two arguments; see [Wrap2] for its keys.
func NewFunc2[A, B comparable, V any](c *Cache, name string, fn func(context.Context, A, B) (V, error), opts ...Option) *Func2[A, B, V] {
	if fn == nil {
		panic("cached: NewFunc2(" + name + "): nil function")
	}
	cfg := c.funcConfig(name, opts)
	ka := mustKeyCodec[A]("NewFunc2("+name+")", cfg.keyFuncs)
	kb := mustKeyCodec[B]("NewFunc2("+name+")", cfg.keyFuncs)
	return &Func2[A, B, V]{newFunc(c, name, func(ctx context.Context, p pair[A, B]) (V, error) { return fn(ctx, p.a, p.b) },
		cfg, pairArgs(ka, kb), func(p pair[A, B]) []any { return []any{p.a, p.b} })}
}

// Get is [Func.Get].
func (f *Func2[A, B, V]) Get(ctx context.Context, a A, b B) (V, error) {
	return f.f.Get(ctx, pair[A, B]{a, b})
}

// Put is [Func.Put].
func (f *Func2[A, B, V]) Put(ctx context.Context, a A, b B, v V) error {
	return f.f.Put(ctx, pair[A, B]{a, b}, v)
}

// Invalidate is [Func.Invalidate].
func (f *Func2[A, B, V]) Invalidate(ctx context.Context, a A, b B) error {
	return f.f.Invalidate(ctx, pair[A, B]{a, b})
}

// Refresh is [Func.Refresh].
func (f *Func2[A, B, V]) Refresh(ctx context.Context, a A, b B) (V, error) {
	return f.f.Refresh(ctx, pair[A, B]{a, b})
}

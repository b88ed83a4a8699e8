package decorator

import "github.com/cachedgo/cached"

// Option configures a generated decorator (NewCachedX(c, next, opts...)).
type Option func(*Options)

// With adds engine options to every cached function of the decorator. They override the
// Cache's defaults and the annotations (a ttl= in an annotation is an option given before
// them).
func With(opts ...cached.Option) Option {
	return func(o *Options) { o.all = append(o.all, opts...) }
}

// For adds engine options to the cached function named name (the name= of an annotation),
// after those of [With]: decorator.For("user", cached.TTL(time.Hour)).
func For(name string, opts ...cached.Option) Option {
	return func(o *Options) {
		if o.named == nil {
			o.named = make(map[string][]cached.Option)
		}
		o.named[name] = append(o.named[name], opts...)
	}
}

// OnError sets a function told about each failed eviction or put that follows a
// successful write (the Store or the Bus failing). The write's own result is returned
// unchanged whatever the cache says: the cache degrading must not fail a write that
// happened. The engine counts and logs these failures already (Cache.Stats, WithLogger);
// OnError is for callers that want to act on them. Default: nothing more.
func OnError(fn func(method string, err error)) Option {
	return func(o *Options) { o.onError = fn }
}

// Options are the collected [Option]s of a generated decorator. Generated code calls its
// methods; other code has no need to.
type Options struct {
	all     []cached.Option
	named   map[string][]cached.Option
	onError func(method string, err error)
}

// Collect applies opts in order.
func Collect(opts []Option) *Options {
	o := new(Options)
	for _, opt := range opts {
		if opt != nil {
			opt(o)
		}
	}
	return o
}

// Func returns the engine options of the function named name: the annotation's options
// (annotated), then those of [With], then those of [For](name).
func (o *Options) Func(name string, annotated ...cached.Option) []cached.Option {
	opts := make([]cached.Option, 0, len(annotated)+len(o.all)+len(o.named[name]))
	opts = append(opts, annotated...)
	opts = append(opts, o.all...)
	return append(opts, o.named[name]...)
}

// Report tells the [OnError] function about err, when both are non-nil.
func (o *Options) Report(method string, err error) {
	if err != nil && o.onError != nil {
		o.onError(method, err)
	}
}

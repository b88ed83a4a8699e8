package jitter

import "math/rand/v2"

// Option configures a [Func] built by [Percent] or [Range].
type Option func(*config)

type config struct {
	r *rand.Rand
}

// WithRand makes the Func draw its random numbers from r instead of
// math/rand/v2's top-level functions, which is the default. It exists for
// deterministic tests and examples: two Funcs given identically seeded
// sources produce the same sequence of TTLs. If r is nil, the default is
// kept.
//
// A *rand.Rand is not safe for concurrent use, so the Func serializes its
// calls to r with a mutex of its own. That mutex guards only this Func: r must
// not be used by anything else, another Func included, while the Func is in
// use. The default source needs no lock and scales better under contention.
func WithRand(r *rand.Rand) Option {
	return func(c *config) { c.r = r }
}

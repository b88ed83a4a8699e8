package bench

import "github.com/cachedgo/cached"

// cachedContender is cached.Wrap over a cache with the defaults of cached.New: a TTL of
// five minutes, with jitter. Wrap returns a func of the loader's own signature, so get is
// what Wrap returns, with no adapter.
func cachedContender() contender {
	return contender{name: "cached", coalesces: true, open: func(load loadFunc) (getFunc, func() error) {
		c := cached.New()
		return cached.Wrap(c, "user", load), c.Close
	}}
}

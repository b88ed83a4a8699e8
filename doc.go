// Package cached puts caching around a function instead of inside it.
//
// [Wrap] returns a function with exactly the signature of the one it decorates, so the
// business code never mentions the cache:
//
//	c := cached.New()
//	defer c.Close()
//	getUser := cached.Wrap(c, "user", repo.GetUser)
//	u, err := getUser(ctx, 42) // same signature as repo.GetUser
//
// Every call goes through one engine:
//
//  1. The in-process tier (bounded, TTL-aware; a hit neither decodes nor allocates).
//  2. On a miss, an optional [Guard] rules out keys that cannot exist (penetration).
//  3. One load per key per process: concurrent callers of a cold key share one flight
//     (breakdown). Each caller waits on its own context; the shared load runs detached
//     from any one caller's cancellation, bounded by [LoadTimeout].
//  4. An optional [Store] shared by many instances, and an optional [Locker] so that one
//     instance of a fleet loads a key while the others wait and re-read the store.
//  5. The loader. Its value is stored with a jittered TTL ([Jitter]) so that keys written
//     together do not expire together (avalanche); a not-found result ([ErrNotFound],
//     [NotFound]) is cached for [NegativeTTL].
//
// Expired entries can still be served for a while: [StaleWhileRevalidate] serves them at once
// and refreshes in the background, [StaleIfError] serves them when the loader fails, and
// [EarlyRefresh] refreshes hot keys shortly before they expire.
//
// A failing plug-in never breaks the call it decorates unless asked to: [OnFailure] chooses
// between calling the loader (the default), returning the error, or serving stale. Every
// event is counted in [Cache.Stats] and reported to an optional [Observer].
//
// # Concurrency
//
// A [Cache] and every [Func] are safe for concurrent use. No user code (loaders, plug-ins,
// observers) runs while the engine holds one of its locks.
//
// # Integrations
//
// Integrations live in their own packages and depend on this one, never the other way:
// store/memcached, lock, bus, bloom, luapolicy and middleware. The interfaces they implement
// ([Store], [Locker], [Guard], [Policy], [Codec], [Observer], [Bus]) are documented for
// implementers here.
package cached

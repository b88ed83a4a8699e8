// Package jitter spreads cache TTLs so that keys written together do not
// expire together.
//
// Keys written in one burst — a warm-up, a deploy, the refills after an
// outage — with one TTL also expire in one burst, and every reader falls
// through to the backend at the same instant (a cache avalanche). A [Func]
// turns the base TTL into a slightly different one for each write, so that
// expiries spread over a window instead of landing on a single tick:
//
//	spread := jitter.Percent(0.1)
//	ttl := spread(10 * time.Minute) // between 9m and 11m
//
// Every Func in this package returns a ttl <= 0 unchanged, because callers
// give zero and negative TTLs special meanings ("no expiry", "expire now")
// that jitter must not alter; never turns a positive ttl into one <= 0;
// saturates at math.MaxInt64 instead of overflowing; and is safe for
// concurrent use.
package jitter

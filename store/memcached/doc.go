// Package memcached is a [cached.Store] on memcached, through gomemcache:
//
//	c := cached.New(cached.WithStore(memcached.New([]string{"10.0.0.1:11211", "10.0.0.2:11211"})))
//
// Servers are placed on a libmemcached-compatible ketama ring ([Ketama]): Go and PHP/C
// clients that share a pool agree on every key's server, and adding a server moves about
// 1/n of the keys instead of nearly all of them (gomemcache's default crc32-mod-n
// selector). Keys of any form are mapped to keys memcached accepts (long keys and keys
// with spaces or control characters become a readable prefix and a SHA-256), TTLs are
// rounded up to whole seconds and sent as absolute times past 30 days, values over the
// item size limit are skipped and counted, and values carry a small versioned envelope
// (negative flag, written-at, soft expiry, load duration, fencing token) before the codec's
// payload.
//
// When a server is down or slow, calls to it fail after [Timeout] and the engine falls
// back as configured (by default it loads); after a few consecutive failures a breaker
// fails calls to that server at once, then probes it, so recovery is automatic. [Stats]
// counts each of these.
package memcached

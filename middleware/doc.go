// Package middleware caches HTTP responses with the cached engine, as chi middleware: a
// shared cache in the sense of RFC 9111 that sits in front of the handlers of one
// process and uses the Cache's stores, locks, bus and policy.
//
//	c := cached.New()
//	r := chi.NewRouter()
//	r.Use(middleware.Cache(c))                                  // what handlers mark cacheable
//	r.With(middleware.Cache(c, middleware.TTL(time.Minute))).
//		Get("/products/{id}", getProduct)                         // or a TTL for one route
//
// # What is stored
//
// Only GET responses are stored; a HEAD is answered from the stored GET. Other methods go
// to the handler, and one that succeeds (2xx, 3xx) invalidates the stored responses of its
// URL and of the same-host URLs its Location and Content-Location name (RFC 9111 §4.4).
//
// A response is stored when its status is one of [Statuses] (by default
// [DefaultStatuses]) and it says how long it is fresh: s-maxage, then max-age, then
// Expires minus Date (less its age, RFC 9111 §4.2.3); failing those, the route's policy
// TTL, then the [TTL] option. With none of these it is not stored: the middleware has no
// heuristic default, so middleware.Cache(c) alone caches only what handlers mark
// cacheable. A response is never stored when it says no-store or private, sets a cookie,
// or says Vary: *; a no-cache response is stored but revalidated with its handler on
// every use. A request carrying Authorization is answered from a stored response only
// when that says public, s-maxage or must-revalidate (RFC 9111 §3.5); a request carrying
// a Cookie goes to the handler unless [AllowCookies] says which cookies key it.
//
// The key is the host, the escaped path and the query (sorted; [KeepQuery] keeps only
// some parameters), plus the request's values of the headers the route's responses name
// in Vary. Headers proxies use to rewrite requests (X-Forwarded-Host and the like) are
// removed from the request a storable response is produced for, so that a client cannot
// poison a page served to others ([KeyHeaders] keys and keeps one).
//
// # How it is served
//
// Every response served from the cache carries Age and a Cache-Status header (RFC 9211):
// "cached; hit; ttl=42", or "cached; fwd=uri-miss; stored" for the request that
// produced it. Conditional requests (If-None-Match, If-Modified-Since) are answered 304
// from the stored ETag and Last-Modified, and ranges from the stored body.
//
// Concurrent requests for a URL that is not cached run its handler once: the engine
// coalesces them, and its Locker does the same across a fleet. The handler runs on the
// goroutine of the first request, writing into a buffer; if its response cannot be
// stored, that request gets it, and each waiting request runs the handler for itself,
// since a response meant for one client (private, setting a cookie) is never shown to
// another. A handler that flushes (a stream, server-sent events) or writes more than
// [MaxBody] is switched to its own client unbuffered and is not stored.
//
// stale-while-revalidate and stale-if-error are honoured from the response's
// Cache-Control, and from [StaleWhileRevalidate] and [StaleIfError]. The engine's own TTL,
// stale windows and Codec do not apply: each response carries its lifetime.
//
// # Invalidation
//
// [Purge] purges by URL and by tag (handlers name tags in a Cache-Tag or Surrogate-Key
// header), on every instance when the Cache has a Bus. A purge marks the responses
// stale, and each is replaced by one background request while it is still served; a hard
// purge drops them. [AdminHandler] exposes it over HTTP behind an authorization check.
//
// # Policy
//
// With a [cached.Policy] on the Cache (package luapolicy), each route's rules are found by
// its name (the chi route pattern, or [Name]) and decide per request: Rules.Bypass and
// Rules.Decide (called with the *http.Request as the argument) bypass the cache or
// replace the URL part of the key, Rules.TTL and the TTL in Rules.Options give the TTL of
// responses that say nothing themselves.
package middleware

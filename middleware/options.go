package middleware

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/cachedgo/cached"
)

// Option configures a middleware built by [Cache]. Options with invalid values panic when
// they are built: they are programmer errors, caught at construction.
type Option func(*config)

type config struct {
	name        string
	ttl         time.Duration
	statuses    [1000]bool
	keepQuery   []string // nil: every parameter
	keepAll     bool
	cookies     []string
	allowCookie bool
	keyHeaders  []string
	maxBody     int
	maxBytes    uint64
	swr, sie    time.Duration
	grace       time.Duration
	funcOpts    []cached.Option
}

// Defaults of a middleware built with no options.
const (
	DefaultMaxBody    = 1 << 20  // 1 MiB
	DefaultMaxBytes   = 64 << 20 // 64 MiB per route
	DefaultPurgeGrace = 30 * time.Second
)

// DefaultStatuses are the status codes cached by default: those RFC 9110 §15.1 calls
// heuristically cacheable (a response with one of them may be stored when it says how
// long it is fresh, or the route gives it a TTL).
var DefaultStatuses = []int{200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501}

func defaultConfig() config {
	c := config{keepAll: true, maxBody: DefaultMaxBody, maxBytes: DefaultMaxBytes, grace: DefaultPurgeGrace}
	for _, s := range DefaultStatuses {
		c.statuses[s] = true
	}
	return c
}

// Name names the cached function of every route this middleware serves, in
// [cached.Cache.Stats] and for a [cached.Policy]. By default each route is its own
// function, named by its chi route pattern ("/users/{id}"), or "http" for a request chi
// did not route: one name per route keeps the stats and the policy's rules apart, and
// the number of functions bounded by the number of routes (a name per URL would not be).
func Name(name string) Option {
	if name == "" {
		panic("middleware: Name(\"\")")
	}
	return func(c *config) { c.name = name }
}

// TTL is how long a response stays fresh when it says nothing itself: no s-maxage,
// max-age or Expires. A response's own Cache-Control always wins, and a policy's TTL
// for the route wins over this one. Default: none, so that a response is stored only
// when its handler or an operator said for how long (no heuristic freshness: a handler
// that never thought about caching is never cached by accident).
func TTL(d time.Duration) Option {
	if d <= 0 {
		panic(fmt.Sprintf("middleware: TTL(%v): must be positive", d))
	}
	return func(c *config) { c.ttl = d }
}

// Statuses replaces the status codes whose responses may be stored. Default:
// [DefaultStatuses]; adding others (a 500, a 302) makes transient or per-request answers
// look permanent to every client.
func Statuses(codes ...int) Option {
	for _, s := range codes {
		if s < 100 || s > 999 {
			panic(fmt.Sprintf("middleware: Statuses: %d is not a status code", s))
		}
	}
	return func(c *config) {
		c.statuses = [1000]bool{}
		for _, s := range codes {
			c.statuses[s] = true
		}
	}
}

// KeepQuery keys responses by the listed query parameters only, ignoring the rest
// (utm_source, a cache-buster). The handler still sees the whole query. Default: every
// parameter is part of the key, sorted, so that ?a=1&b=2 and ?b=2&a=1 share an entry:
// ignoring a parameter the handler reads would serve one answer for different
// questions.
func KeepQuery(params ...string) Option {
	keep := slices.Clone(params)
	slices.Sort(keep)
	return func(c *config) { c.keepQuery, c.keepAll = keep, false }
}

// AllowCookies serves requests that carry cookies from the cache, with the values of the
// named cookies as part of the key; the other cookies are ignored. Default: a request
// with a Cookie header is passed to the handler uncached, as Varnish does, because a
// handler that reads a session cookie would otherwise hand one user's page to the next.
func AllowCookies(names ...string) Option {
	keep := slices.Clone(names)
	slices.Sort(keep)
	return func(c *config) { c.cookies, c.allowCookie = keep, true }
}

// KeyHeaders makes the named request headers part of every key of the route, and lets
// the handler see them. Default: none. The middleware removes the headers that proxies
// use to rewrite a request (X-Forwarded-Host, X-Forwarded-Proto, Forwarded,
// X-Original-URL, X-HTTP-Method-Override and the like) before a handler produces a
// response to store, because an unkeyed header the handler reflects is how caches get
// poisoned; name one here when a trusted proxy sets it and the handler needs it.
func KeyHeaders(names ...string) Option {
	keep := make([]string, len(names))
	for i, n := range names {
		keep[i] = http.CanonicalHeaderKey(n)
	}
	slices.Sort(keep)
	return func(c *config) { c.keyHeaders = keep }
}

// MaxBody is the largest response body stored, in bytes. A larger response streams to
// its client uncached once the handler writes past it (what was buffered is written
// first). Default: [DefaultMaxBody], which bounds the memory one request can hold and
// fits a memcached item.
func MaxBody(n int) Option {
	if n <= 0 {
		panic(fmt.Sprintf("middleware: MaxBody(%d): must be positive", n))
	}
	return func(c *config) { c.maxBody = n }
}

// MaxBytes bounds the in-process tier of each route by the bytes of its responses
// (bodies, headers and bookkeeping) instead of by their count. Default:
// [DefaultMaxBytes]: a count bound would let a route of large pages hold gigabytes, so
// responses are counted by their size, and the least useful are evicted past it.
func MaxBytes(n uint64) Option {
	if n == 0 {
		panic("middleware: MaxBytes(0)")
	}
	return func(c *config) { c.maxBytes = n }
}

// StaleWhileRevalidate lets a response be served for d after it went stale while one
// background request to the handler refreshes it, for responses whose Cache-Control
// has no stale-while-revalidate of its own (RFC 5861). Default: 0, only what the
// response says, since serving stale content is a choice of its author.
func StaleWhileRevalidate(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("middleware: StaleWhileRevalidate(%v): negative", d))
	}
	return func(c *config) { c.swr = d }
}

// StaleIfError lets a stale response be served for d after it went stale when the
// handler answers 500, 502, 503 or 504, for responses whose Cache-Control
// has no stale-if-error of its own (RFC 5861). Default: 0, only what the response says.
func StaleIfError(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("middleware: StaleIfError(%v): negative", d))
	}
	return func(c *config) { c.sie = d }
}

// PurgeGrace is how long a response that a soft purge marked stale may still be served
// while one background request refreshes it, when its own stale-while-revalidate window
// is shorter. After it, or when the refresh fails, the response is dropped. Default:
// [DefaultPurgeGrace]; 0 makes every purge hard.
func PurgeGrace(d time.Duration) Option {
	if d < 0 {
		panic(fmt.Sprintf("middleware: PurgeGrace(%v): negative", d))
	}
	return func(c *config) { c.grace = d }
}

// With passes engine options to the cached function of each route: a Store shared by
// the fleet, a Locker, LoadTimeout, a Version. Default: the Cache's own plug-ins, which is
// what a route shares with the rest of the application. The engine's TTL, stale windows and
// FreshnessFunc do not apply to HTTP responses, whose lifetimes come from their
// Cache-Control, these options and the policy; nor does its Codec, since responses have
// their own encoding.
func With(opts ...cached.Option) Option {
	return func(c *config) { c.funcOpts = append(c.funcOpts, opts...) }
}

package middleware

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"
)

// Cache returns chi middleware that caches the responses of the handlers it wraps in c:
// r.Use(middleware.Cache(c)) for a whole router, or r.With(middleware.Cache(c,
// middleware.TTL(time.Minute))).Get(...) for one route. See the package documentation
// for what is stored and how it is served.
//
// Cache panics if c is nil.
func Cache(c *cached.Cache, opts ...Option) func(http.Handler) http.Handler {
	if c == nil {
		panic("middleware: Cache(nil)")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	st := stateOf(c)
	return func(next http.Handler) http.Handler {
		return &handler{c: c, cfg: cfg, st: st, next: next, pol: policyOf(c)}
	}
}

// handler is the middleware around one next handler.
type handler struct {
	c    *cached.Cache
	cfg  config
	st   *state
	next http.Handler
	pol  *policyView

	mu     sync.RWMutex
	routes map[string]*route
}

// route is one route's cached function and what the middleware learned about it.
type route struct {
	h    *handler
	name string
	f    *cached.Func[string, *response]
	vary atomic.Pointer[[]string] // the request headers its responses vary on, as last seen
	seq  atomic.Uint64            // responses its loader produced in this process

	// Hit-for-pass, as Varnish calls it: keys whose last response streamed to its own
	// client (it flushed, or outgrew MaxBody). Requests for them go straight to the
	// handler instead of queueing behind a stream, while it runs and for passFor after.
	passes  sync.Map // key -> int64 unix ns until which it holds; 0 while streaming
	passN   atomic.Int64
	mu      sync.Mutex
	waiting map[string]map[*request]struct{} // requests waiting on a key's flight
}

// passFor is how long a key whose response streamed is passed to the handler before the
// cache tries to store it again.
const passFor = 30 * time.Second

var errPassed = errors.New("middleware: the response streams to the request that produced it")

// markPass marks key hit-for-pass until (unix ns; 0 while streaming) and, when it
// starts streaming, releases the requests waiting for its flight.
func (rt *route) markPass(key string, until int64) {
	if _, loaded := rt.passes.Swap(key, until); !loaded {
		if rt.passN.Add(1) > 10_000 {
			rt.prunePasses()
		}
	}
	if until != 0 {
		return
	}
	rt.mu.Lock()
	ws := rt.waiting[key]
	delete(rt.waiting, key)
	rt.mu.Unlock()
	for q := range ws {
		q.end(true)
	}
}

// passed reports whether key is hit-for-pass at now.
func (rt *route) passed(key string, now time.Time) bool {
	if rt.passN.Load() == 0 {
		return false
	}
	v, ok := rt.passes.Load(key)
	if !ok {
		return false
	}
	until := v.(int64)
	if until == 0 || now.UnixNano() < until {
		return true
	}
	if rt.passes.CompareAndDelete(key, v) {
		rt.passN.Add(-1)
	}
	return false
}

func (rt *route) prunePasses() {
	now := time.Now().UnixNano()
	rt.passes.Range(func(k, v any) bool {
		if u := v.(int64); u != 0 && u < now && rt.passes.CompareAndDelete(k, v) {
			rt.passN.Add(-1)
		}
		return true
	})
}

func (rt *route) spec() []string {
	if p := rt.vary.Load(); p != nil {
		return *p
	}
	return nil
}

func (rt *route) learn(vary []string) { rt.vary.Store(&vary) }

// request is one request on its way through the cache, and the context of its call to
// the engine: the loader finds it there.
type request struct {
	context.Context
	w     http.ResponseWriter
	r     *http.Request
	rt    *route
	rules *cached.Rules
	key   string
	start time.Time
	seq   uint64 // the route's seq when the request began
	auth  bool

	detached *http.Request // a copy of r that outlives it, for background loads
	rctx     *chi.Context  // its chi routing context, cloned
	once     sync.Once

	waitOnce sync.Once
	endOnce  sync.Once
	done     chan struct{} // Done, made when the engine waits on the request
	kicked   atomic.Bool   // released because the flight it waits for streams elsewhere
	stopWait func() bool

	inner      *config   // the options of a Cache middleware nested inside this one's handler
	background bool      // a refresh the middleware started: no writer
	ran        bool      // the loader ran the handler for this request, on its goroutine
	wrote      bool      // the response already went to w
	own        *response // the response the loader produced for this request
}

type requestKey struct{}

// Value returns the request itself for requestKey; the engine's load context keeps it.
func (q *request) Value(k any) any {
	if k == (requestKey{}) {
		return q
	}
	if !q.background {
		// The engine's Inline mark, without a context of its own per request.
		if v := inline.Value(k); v != nil {
			return v
		}
	}
	return q.Context.Value(k)
}

// inline holds the engine's Inline mark, which every request's context answers.
var inline = cached.Inline(context.Background())

// detach copies the request for a load that may outlive it: a background refresh the
// engine started while serving it stale, or the middleware's own after a soft purge. chi
// recycles a request's routing context once the request is served, so the copy clones
// it; the copy is made at most once, and always before ServeHTTP returns (see
// mayRefresh), whoever asks first.
func (q *request) detach() (*http.Request, *chi.Context) {
	q.once.Do(func() {
		ctx := context.WithoutCancel(q.r.Context())
		if rctx := chi.RouteContext(ctx); rctx != nil {
			q.rctx = rctx.Clone()
		}
		q.detached = q.r.Clone(ctx)
		q.detached.Body = http.NoBody
	})
	return q.detached, q.rctx
}

// mayRefresh reports whether the engine may have started a background refresh while
// serving resp: when resp is past the shortest TTL its jitter could have given it.
func mayRefresh(resp *response, now time.Time) bool {
	return now.Sub(resp.received) >= resp.ttl-resp.ttl/10-time.Second
}

// Done is the request's context's, and closes too when the flight the request waits for
// turns out to stream to another client (see markPass): the engine calls it only to wait
// for a flight, so hits pay nothing for it.
func (q *request) Done() <-chan struct{} {
	if q.background || q.rt == nil {
		return q.Context.Done()
	}
	q.waitOnce.Do(func() {
		q.done = make(chan struct{})
		q.rt.mu.Lock()
		if q.rt.waiting == nil {
			q.rt.waiting = make(map[string]map[*request]struct{})
		}
		if q.rt.waiting[q.key] == nil {
			q.rt.waiting[q.key] = make(map[*request]struct{})
		}
		q.rt.waiting[q.key][q] = struct{}{}
		q.rt.mu.Unlock()
		q.stopWait = context.AfterFunc(q.Context, func() { q.end(false) })
	})
	return q.done
}

// Err is the context's error, or errPassed once released by markPass.
func (q *request) Err() error {
	if q.kicked.Load() {
		return errPassed
	}
	return q.Context.Err()
}

func (q *request) end(kicked bool) {
	q.endOnce.Do(func() {
		q.kicked.Store(kicked)
		close(q.done)
	})
}

// stopWaiting undoes what Done set up, once the engine has answered.
func (q *request) stopWaiting() {
	if q.done == nil {
		return
	}
	q.stopWait()
	q.rt.mu.Lock()
	if ws := q.rt.waiting[q.key]; ws != nil {
		delete(ws, q)
		if len(ws) == 0 {
			delete(q.rt.waiting, q.key)
		}
	}
	q.rt.mu.Unlock()
}

// conf is the configuration that decides about the request's response: the handler's,
// or a nested middleware's (see ServeHTTP).
func (q *request) conf() *config {
	if q.inner != nil {
		return q.inner
	}
	return &q.rt.h.cfg
}

func (q *request) policyFreshness() cached.Freshness {
	if q.rules == nil {
		return cached.Freshness{}
	}
	return cached.FreshnessOf(q.rules.Options...)
}

// Cache-Status values (RFC 9211). The cache's name is "cached".
const (
	statusMiss      = "cached; fwd=uri-miss"
	statusStored    = "cached; fwd=uri-miss; stored"
	statusCollapsed = "cached; fwd=uri-miss; collapsed"
	statusBypass    = "cached; fwd=bypass"
	statusRequest   = "cached; fwd=request"
	statusMethod    = "cached; fwd=method"
	statusVaryMiss  = "cached; fwd=vary-miss"
	statusPurged    = "cached; hit; ttl=0; detail=purged"
)

var (
	errUncacheable = errors.New("middleware: response not storable")
	errNoRequest   = errors.New("middleware: load without a request")
)

// originError is what the loader returns for a 500, 502, 503 or 504: an error to the
// engine, so that stale-if-error serves the stored response, with the response itself
// for the request that produced it.
type originError struct{ resp *response }

func (e *originError) Error() string {
	return "middleware: handler answered " + strconv.Itoa(e.resp.status)
}

func isOriginError(status int) bool {
	return status == 500 || status == 502 || status == 503 || status == 504
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if outer, ok := r.Context().Value(requestKey{}).(*request); ok {
		// Nested in another Cache middleware that is producing a response to store (a
		// router-wide Use around a route's With): the outer one keys and stores, with
		// this one's options for what is stored and for how long.
		outer.inner = &h.cfg
		h.next.ServeHTTP(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions, http.MethodTrace:
		h.pass(w, r, statusMethod)
		return
	default:
		h.unsafe(w, r)
		return
	}
	if (len(r.Header["Cookie"]) > 0 && !h.cfg.allowCookie) || len(r.Header["Upgrade"]) > 0 {
		h.pass(w, r, statusRequest)
		return
	}
	rt := h.route(r)
	var rules *cached.Rules
	if h.pol != nil {
		rules = h.pol.p.Rules(rt.name)
		if rules != nil && rules.Bypass {
			h.pass(w, r, statusBypass)
			return
		}
	}
	t := h.target(r)
	if !t.ok {
		h.pass(w, r, statusBypass)
		return
	}
	base := ""
	if rules != nil && rules.Decide != nil {
		d, err := rules.Decide(r.Context(), cached.Call{Func: rt.name, Key: t.host + t.path + "?" + t.query, Args: []any{policyRequest(r, rt.name)}})
		if err == nil && d.Bypass {
			h.pass(w, r, statusBypass)
			return
		}
		if err == nil && d.Key != "" {
			base = "=" + d.Key
		}
	}
	ctx := r.Context()
	spec := rt.spec()
	for attempt := 0; ; attempt++ {
		q := &request{Context: ctx, w: w, r: r, rt: rt, rules: rules,
			seq: rt.seq.Load(), auth: len(r.Header["Authorization"]) > 0}
		q.key = h.key(base, t, spec, r)
		now := time.Now()
		if rt.passed(q.key, now) {
			h.pass(w, r, statusMiss)
			return
		}
		resp, err := rt.f.Get(q, q.key)
		q.stopWaiting()
		if pe, ok := errors.AsType[*cached.PanicError](err); ok && q.ran {
			panic(pe.Value) // the handler panicked on this request: let the server see it
		}
		if resp != nil && !resp.passed && mayRefresh(resp, now) {
			// The engine may have started a background refresh with this request: copy
			// it before ServeHTTP returns, whatever path the request takes from here.
			q.detach()
		}
		if q.wrote {
			if resp != nil && resp.passed {
				rt.markPass(q.key, time.Now().Add(passFor).UnixNano())
			}
			return
		}
		if err != nil {
			h.failed(q, err)
			return
		}
		if resp.passed {
			h.pass(w, r, statusMiss)
			return
		}
		if q.ran && resp == q.own {
			status := statusMiss
			if resp.ttl > 0 {
				status = statusStored
				if !slicesEqual(resp.vary, spec) {
					// Keyed before the route's Vary was known: store it under the key
					// that names its Vary values too, where the next request looks.
					rt.f.Put(context.WithoutCancel(r.Context()), h.key(base, t, resp.vary, r), resp)
				}
			}
			h.write(w, r, resp, status, time.Now())
			return
		}
		// A response produced for another request: check that it answers this one.
		if string(appendVary(make([]byte, 0, 64), resp.vary, r)) != resp.varyKey {
			if attempt == 0 && !slicesEqual(resp.vary, spec) {
				spec = resp.vary
				rt.learn(spec)
				continue
			}
			h.pass(w, r, statusVaryMiss)
			return
		}
		if !resp.shareable || (q.auth && !resp.allowsAuth) {
			h.pass(w, r, statusRequest)
			return
		}
		if rec, ok := h.st.purged(resp, t); ok {
			grace := max(resp.swr, h.cfg.grace)
			if h.cfg.grace == 0 {
				grace = 0 // PurgeGrace(0): every purge is hard
			}
			if !rec.hard && grace > 0 && now.Sub(time.Unix(0, rec.at)) < grace && attempt < 2 {
				if resp.refresh.CompareAndSwap(false, true) {
					q.detach()
					// Its end is bounded: Refresh runs the load on a goroutine of the
					// Cache, which LoadTimeout and Close end.
					go rt.refresh(q)
				}
				h.write(w, r, resp, statusPurged, now)
				return
			}
			if attempt < 2 {
				resp.purge.Do(func() { rt.f.Invalidate(context.WithoutCancel(r.Context()), q.key) })
				continue
			}
			h.pass(w, r, statusMiss)
			return
		}
		if resp.noCache {
			h.revalidate(q, resp)
			return
		}
		switch {
		case resp.seq > q.seq:
			// Produced by this process after the request began: it waited for it.
			h.write(w, r, resp, statusCollapsed, now)
		case resp.fresh(now) < 0:
			h.write(w, r, resp, staleStatus(resp, now), now)
		default:
			h.write(w, r, resp, "", now)
		}
		return
	}
}

// failed answers a request whose call to the engine returned an error.
func (h *handler) failed(q *request, err error) {
	var oe *originError
	if errors.As(err, &oe) {
		if q.ran || (oe.resp.shareable && (!q.auth || oe.resp.allowsAuth)) {
			h.write(q.w, q.r, oe.resp, statusMiss, time.Now())
			return
		}
	}
	var pe *cached.PanicError
	if errors.As(err, &pe) && q.ran {
		panic(pe.Value) // the handler panicked on this request: let the server see it
	}
	if q.r.Context().Err() != nil {
		return // the client left while it waited for another request's response
	}
	// Not storable, or the cache failed: the request gets its own response, uncached.
	h.pass(q.w, q.r, statusMiss)
}

// key builds the cache key of a request (see key.go).
func (h *handler) key(base string, t target, spec []string, r *http.Request) string {
	var buf [256]byte
	b := buf[:0]
	if base != "" {
		b = append(b, base...)
	} else {
		if r.TLS != nil {
			b = append(b, "https://"...) // a response for http (a redirect to https) is not one for https
		}
		b = append(b, t.host...)
		b = append(b, t.path...)
		if t.query != "" {
			b = append(b, '?')
			b = append(b, t.query...)
		}
	}
	if len(spec) > 0 || len(h.cfg.keyHeaders) > 0 || len(h.cfg.cookies) > 0 {
		b = append(b, 0)
		b = appendVary(b, spec, r)
		b = append(b, 0)
		b = h.appendExtra(b, r)
	}
	return string(b)
}

// route returns the cached function of the request's route, creating it on first use.
func (h *handler) route(r *http.Request) *route {
	name := h.cfg.name
	if name == "" {
		name = routePattern(r)
	}
	h.mu.RLock()
	rt := h.routes[name]
	h.mu.RUnlock()
	if rt != nil {
		return rt
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if rt = h.routes[name]; rt != nil {
		return rt
	}
	if h.routes == nil {
		h.routes = make(map[string]*route)
	}
	rt = &route{h: h, name: name}
	opts := append([]cached.Option{
		cached.Jitter(shrink),
		cached.EarlyRefresh(0), // a refresh needs a request: only stale serving starts one
		cached.LocalCost(h.cfg.maxBytes, (*response).cost),
		cached.NegativeTTL(0),
	}, h.cfg.funcOpts...)
	freshness := func(r *response) cached.Freshness {
		// Also called for responses read back from a Store, which other instances
		// stored: purge records are kept as long as any of them may be served.
		if r != nil && r.ttl > 0 {
			h.st.noteLife(r.life(h.cfg.grace))
		}
		return r.freshness()
	}
	opts = append(opts, cached.FreshnessFunc(freshness), cached.WithCodec(codec{}), cached.EarlyRefresh(0))
	if h.pol != nil {
		opts = append(opts, cached.WithPolicy(h.pol.engine()))
	} else {
		opts = append(opts, cached.WithPolicy(nil))
	}
	rt.f = cached.NewFunc(h.c, name, rt.load, opts...)
	h.routes[name] = rt
	return rt
}

var routeContexts = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// routePattern is the chi route pattern of r: known once chi has routed it (middleware
// given to With or a Group), else looked up in the router (middleware given to Use runs
// before routing).
func routePattern(r *http.Request) string {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil {
		return "http"
	}
	if p := rctx.RoutePattern(); p != "" && p[len(p)-1] != '*' {
		return p
	}
	if rctx.Routes == nil {
		return "http"
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	tctx := routeContexts.Get().(*chi.Context)
	tctx.Reset()
	p := rctx.Routes.Find(tctx, http.MethodGet, path)
	routeContexts.Put(tctx)
	if p == "" {
		return "http"
	}
	return p
}

// load is the route's loader: it runs the handler for the request in its context.
func (rt *route) load(ctx context.Context, key string) (*response, error) {
	q, _ := ctx.Value(requestKey{}).(*request)
	if q == nil {
		return nil, errNoRequest
	}
	inline := !q.background && !cached.IsBackground(ctx) && !q.ran
	rec := &recorder{h: rt.h, header: make(http.Header)}
	var hr *http.Request
	if inline {
		// While the response is recorded for others too, the load's end (LoadTimeout,
		// Close) ends the handler's context and the client leaving does not; once it
		// streams to its own client only, the reverse.
		hctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
		defer cancel(nil)
		defer context.AfterFunc(ctx, func() {
			if !rec.streaming.Load() {
				cancel(context.Cause(ctx))
			}
		})()
		defer context.AfterFunc(q.r.Context(), func() {
			if rec.streaming.Load() {
				cancel(context.Cause(q.r.Context()))
			}
		})()
		rec.cancel = cancel
		hr = rt.h.handlerRequest(hctx, q.r, false)
		q.start = time.Now() // request_time of RFC 9111 §4.2.3: when the handler is asked
		q.ran = true
		rec.w = q.w
		rec.q = q
	} else {
		// A background load records for a request of its own, which the handler's
		// context holds (a nested middleware finds it there).
		d, rctx := q.detach()
		bg := &request{Context: ctx, r: d, rt: rt, rules: q.rules, key: key, start: time.Now(),
			auth: len(d.Header["Authorization"]) > 0, background: true}
		var hctx context.Context = bg
		if rctx != nil {
			hctx = context.WithValue(hctx, chi.RouteCtxKey, rctx)
		}
		hr = rt.h.handlerRequest(hctx, d, true)
		bg.r = hr
		rec.q = bg
	}
	rt.h.next.ServeHTTP(rec, hr)
	resp := rec.finish()
	switch {
	case rec.passing:
		return &response{ttl: -1, passed: true}, nil
	case resp == nil:
		return nil, errUncacheable
	}
	resp.seq = rt.seq.Add(1)
	if inline {
		q.own = resp
	}
	if isOriginError(resp.status) && resp.ttl <= 0 {
		return nil, &originError{resp: resp}
	}
	return resp, nil
}

// unkeyed are request headers that proxies use to rewrite a request. A handler that
// reflects one of them into a stored response would serve the rewritten page to
// everyone (cache poisoning), so they are removed from a request whose response may be
// stored, unless KeyHeaders makes them part of the key. The conditional and range
// headers are removed too: the stored response must be the whole one, and the cache
// answers conditionals and ranges itself.
var unkeyed = []string{
	"X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Scheme", "X-Forwarded-Port",
	"X-Forwarded-Prefix", "X-Forwarded-Server", "X-Host", "X-Original-Url", "X-Rewrite-Url",
	"X-Original-Host", "X-Http-Method-Override", "X-Http-Method", "X-Method-Override",
	"Forwarded",
	"If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "If-Range", "Range",
}

// handlerRequest is the request a handler sees when its response may be stored: a GET
// (a HEAD is answered from the GET), in the load's context, without the unkeyed headers.
// clone copies the request for a load that outlives it.
func (h *handler) handlerRequest(ctx context.Context, r *http.Request, clone bool) *http.Request {
	var hr *http.Request
	if clone {
		hr = r.Clone(ctx)
		hr.Body = http.NoBody
	} else {
		hr = r.WithContext(ctx)
	}
	hr.Method = http.MethodGet
	copied := clone
	if len(hr.Header["Cookie"]) > 0 {
		// Only the cookies that are part of the key (AllowCookies) reach the handler: a
		// page built from any other cookie would be served to people without it.
		if !copied {
			hr.Header, copied = hr.Header.Clone(), true
		}
		h.keepCookies(hr)
	}
	if clone && len(hr.Header["Authorization"]) > 0 {
		// A background refresh is no one's request: it does not carry one user's
		// credentials into a response stored for everyone.
		delete(hr.Header, "Authorization")
	}
	for _, name := range unkeyed {
		if _, ok := hr.Header[name]; !ok || slices.Contains(h.cfg.keyHeaders, name) {
			continue
		}
		if !copied {
			hr.Header, copied = hr.Header.Clone(), true
		}
		delete(hr.Header, name)
	}
	return hr
}

// policyRequest is r as a policy sees it: under a router-wide Use, chi has not routed r
// yet, so its routing context is given the route's pattern, which the middleware found.
func policyRequest(r *http.Request, pattern string) *http.Request {
	rctx := chi.RouteContext(r.Context())
	if rctx == nil || pattern == "http" || rctx.RoutePattern() == pattern {
		return r
	}
	pc := rctx.Clone()
	pc.RoutePatterns = []string{pattern}
	return r.WithContext(context.WithValue(r.Context(), chi.RouteCtxKey, pc))
}

// keepCookies leaves on hr only the cookies AllowCookies names.
func (h *handler) keepCookies(hr *http.Request) {
	var kept []string
	for _, ck := range hr.Cookies() {
		if _, ok := slices.BinarySearch(h.cfg.cookies, ck.Name); ok {
			kept = append(kept, ck.String())
		}
	}
	delete(hr.Header, "Cookie")
	if len(kept) > 0 {
		hr.Header["Cookie"] = []string{strings.Join(kept, "; ")}
	}
}

// refresh replaces a soft-purged response in the background, for the detached copy of
// the request that found it purged.
func (rt *route) refresh(from *request) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(from.detached.Context()), cached.DefaultLoadTimeout)
	defer cancel()
	q := &request{Context: ctx, r: from.r, rt: rt, rules: from.rules, key: from.key, background: true,
		detached: from.detached, rctx: from.rctx}
	q.once.Do(func() {}) // detached already
	if _, err := rt.f.Refresh(q, q.key); err != nil {
		// The purged response could not be replaced: drop it rather than serve it for
		// the rest of the grace.
		rt.f.Invalidate(ctx, q.key)
	}
}

// revalidate answers a request from a stored no-cache response: the handler is asked
// with the stored validators, and a 304 serves the stored body.
func (h *handler) revalidate(q *request, stored *response) {
	hr := h.handlerRequest(q.r.Context(), q.r, false)
	hr.Header = hr.Header.Clone()
	if et := stored.header.Get("ETag"); et != "" {
		hr.Header.Set("If-None-Match", et)
	}
	if lm := stored.header.Get("Last-Modified"); lm != "" {
		hr.Header.Set("If-Modified-Since", lm)
	}
	q.start = time.Now()
	rec := &recorder{h: h, q: q, w: q.w, header: make(http.Header)}
	h.next.ServeHTTP(rec, hr)
	fresh := rec.finish()
	if fresh == nil {
		return // streamed to the client
	}
	if fresh.status == http.StatusNotModified {
		h.write(q.w, q.r, stored, "cached; fwd=stale; fwd-status=304", time.Now())
		return
	}
	if fresh.ttl > 0 {
		q.rt.f.Put(context.WithoutCancel(q.r.Context()), q.key, fresh)
	}
	h.write(q.w, q.r, fresh, "cached; fwd=stale; fwd-status="+strconv.Itoa(fresh.status), time.Now())
}

// pass sends a request to the handler, uncached.
func (h *handler) pass(w http.ResponseWriter, r *http.Request, status string) {
	w.Header()["Cache-Status"] = []string{status}
	h.next.ServeHTTP(w, r)
}

// unsafe passes a request with an unsafe method to the handler and, when it succeeds,
// invalidates the stored responses of its URL and of the URLs its Location and
// Content-Location name on the same host (RFC 9111 §4.4).
func (h *handler) unsafe(w http.ResponseWriter, r *http.Request) {
	ww := chimw.NewWrapResponseWriter(w, r.ProtoMajor)
	ww.Header()["Cache-Status"] = []string{statusMethod}
	h.next.ServeHTTP(ww, r)
	if s := ww.Status(); s != 0 && (s < 200 || s >= 400) {
		return
	}
	urls := []string{"//" + r.Host + r.URL.RequestURI()}
	for _, name := range []string{"Location", "Content-Location"} {
		if v := ww.Header().Get(name); v != "" {
			if u, err := r.URL.Parse(v); err == nil && (u.Host == "" || u.Host == r.Host) {
				urls = append(urls, "//"+r.Host+u.RequestURI())
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	h.st.purge(ctx, Target{URLs: urls, Hard: true})
}

// shrink is the jitter of HTTP responses: a TTL shortened by up to a tenth, never
// lengthened past what the response allows.
func shrink(d time.Duration) time.Duration {
	if d <= 10 {
		return d
	}
	return d - time.Duration(rand.Int64N(int64(d/10)))
}

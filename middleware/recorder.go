package middleware

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// recorder is the ResponseWriter a handler writes to when its response may be stored. It
// buffers the response and decides, when the header is written, whether it may be
// stored. When the handler flushes or writes more than MaxBody, a recorder running on its
// request's goroutine (w is set) switches to pass-through: it writes what it buffered to
// w and every later write straight through, so that streams are neither buffered nor
// delayed. In the background (w is nil) it gives up instead (aborted).
type recorder struct {
	h       *handler
	q       *request
	w       http.ResponseWriter
	header  http.Header
	snap    http.Header // the header as written, for a pass-through and the stored copy
	status  int
	body    []byte
	resp    *response
	passing bool
	aborted bool

	// streaming is passing, for the context watchers of a load on the request's goroutine:
	// from then on the client leaving, not the load's end, ends the handler's context.
	streaming atomic.Bool
	cancel    context.CancelCauseFunc
}

func (rec *recorder) Header() http.Header {
	if rec.passing {
		return rec.w.Header()
	}
	return rec.header
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status != 0 || rec.passing || rec.aborted {
		return
	}
	if code < 200 {
		// Informational responses (103 Early Hints) are not forwarded: the final
		// response may be stored and served to requests that never saw them.
		return
	}
	rec.status = code
	rec.snap = rec.header.Clone()
	rec.resp = rec.h.decide(rec.q, code, rec.snap)
	if rec.snap.Get("Trailer") != "" || hasTrailerPrefix(rec.snap) {
		// Trailers are written after the body; a replay could not carry them.
		rec.divert()
	} else if cl := rec.snap.Get("Content-Length"); cl != "" && tooLong(cl, rec.q.conf().maxBody) {
		// Declared too large to store: stream it from the first byte.
		rec.divert()
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 && !rec.passing && !rec.aborted {
		if _, set := rec.header["Content-Type"]; !set {
			// What net/http would do for the client: sniff the first write.
			rec.header.Set("Content-Type", http.DetectContentType(p))
		}
		rec.WriteHeader(http.StatusOK)
	}
	switch {
	case rec.passing:
		return rec.w.Write(p)
	case rec.aborted:
		return len(p), nil
	case len(rec.body)+len(p) > rec.q.conf().maxBody:
		rec.divert()
		if rec.passing {
			return rec.w.Write(p)
		}
		return len(p), nil
	}
	rec.body = append(rec.body, p...)
	return len(p), nil
}

// Flush hands the response to the client at once: the recorder stops recording.
func (rec *recorder) Flush() { _ = rec.FlushError() }

// FlushError is Flush for http.ResponseController.
func (rec *recorder) FlushError() error {
	if rec.status == 0 && !rec.passing && !rec.aborted {
		rec.WriteHeader(http.StatusOK)
	}
	rec.divert()
	if rec.passing {
		return http.NewResponseController(rec.w).Flush()
	}
	return nil
}

// Unwrap gives http.ResponseController the request's own writer (nil in the
// background), for deadlines.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.w }

// divert stops recording: on the request's goroutine the buffered response goes out and
// later writes pass through; in the background the response is dropped.
func (rec *recorder) divert() {
	if rec.passing || rec.aborted {
		return
	}
	if rec.w == nil {
		rec.aborted, rec.body = true, nil
		return
	}
	rec.passing = true
	rec.streaming.Store(true)
	if err := rec.q.r.Context().Err(); err != nil && rec.cancel != nil {
		rec.cancel(context.Cause(rec.q.r.Context()))
	}
	// Nobody else can use this response: release the requests waiting for it, and send
	// the ones to come straight to the handler while it streams.
	rec.q.rt.markPass(rec.q.key, 0)
	dst := rec.w.Header()
	for k, v := range rec.snap {
		dst[k] = v
	}
	dst["Cache-Status"] = []string{statusMiss}
	rec.w.WriteHeader(rec.status)
	if len(rec.body) > 0 {
		rec.w.Write(rec.body)
	}
	rec.body = nil
	rec.q.wrote = true
}

// finish completes the response once the handler has returned.
func (rec *recorder) finish() *response {
	if rec.status == 0 && !rec.passing && !rec.aborted {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.passing || rec.aborted {
		return nil
	}
	r := rec.resp
	r.body = rec.body
	return r.prepare()
}

func tooLong(contentLength string, max int) bool {
	n, err := strconv.ParseInt(contentLength, 10, 64)
	return err == nil && n > int64(max)
}

func hasTrailerPrefix(h http.Header) bool {
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// hopByHop are the header fields that describe one connection, not the response (RFC
// 9110 §7.6.1), and the ones the cache writes itself.
var hopByHop = []string{
	"Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization",
	"Te", "Trailer", "Transfer-Encoding", "Upgrade", "Age", "Cache-Status", "Content-Length",
}

// decide builds the response record for a handler's header: whether it may be stored,
// for how long, and who it may be shown to.
func (h *handler) decide(q *request, status int, hdr http.Header) *response {
	cfg := q.conf()
	now := time.Now()
	d := parseDirectives(hdr)
	r := &response{status: status, received: now, age: initialAge(hdr, q.start, now), ttl: -1, swr: -1, sie: -1}
	r.header = hdr.Clone()
	for _, f := range hdr["Connection"] {
		for name := range strings.SplitSeq(f, ",") {
			r.header.Del(strings.TrimSpace(name))
		}
	}
	for _, k := range hopByHop {
		delete(r.header, k)
	}
	if _, ok := r.header["Date"]; !ok {
		// A cache adds the Date a response lacks (RFC 9110 §6.6.1), so that its age
		// stays right when it is served later.
		r.header["Date"] = []string{now.UTC().Format(http.TimeFormat)}
	}
	vary, star := varySpec(hdr)
	r.vary = vary
	r.varyKey = string(appendVary(nil, vary, q.r))
	r.tags = tagsOf(hdr)
	if !star && !slicesEqual(vary, q.rt.spec()) {
		q.rt.learn(vary)
	}

	auth := q.auth
	cookie := len(hdr["Set-Cookie"]) > 0
	r.allowsAuth = d.public || d.sMaxAge >= 0 || d.mustRevalidate
	r.shareable = !d.private && !d.noStore && !cookie && !star && (!auth || r.allowsAuth)
	r.noCache = d.noCache
	if !r.shareable || star || !cfg.statuses[status] || (d.noCache && !d.hasValidators) {
		return r
	}

	ttl, known := lifetime(d, hdr, now)
	if known {
		ttl -= r.age
	}
	pol := q.policyFreshness()
	if !known || (d.noCache && ttl <= 0) {
		// The route's TTL, as the policy decides it, else as configured.
		ttl = h.policyTTL(q, status, hdr)
		if ttl == 0 {
			ttl = pol.TTL
		}
		if ttl == 0 {
			ttl = cfg.ttl
		}
	}
	if ttl <= 0 {
		return r
	}
	r.ttl = ttl
	switch {
	case d.mustRevalidate || d.noCache:
		// Never served stale: every use after expiry goes to the handler.
	case d.sMaxAge >= 0:
		// s-maxage implies proxy-revalidate (RFC 9111 §5.2.2.10): only the response's
		// own stale directives may let it be served stale, not the configured windows.
		r.swr, r.sie = firstSet(d.swr), firstSet(d.sie)
	default:
		r.swr = firstSet(d.swr, pol.StaleWhileRevalidate, cfg.swr)
		r.sie = firstSet(d.sie, pol.StaleIfError, cfg.sie)
	}
	return r
}

// firstSet returns the response's directive when present (>= 0), else the first positive
// configured window, else -1 (none).
func firstSet(directive time.Duration, configured ...time.Duration) time.Duration {
	if directive >= 0 {
		return directive
	}
	for _, d := range configured {
		if d > 0 {
			return d
		}
	}
	return -1
}

// policyTTL asks the route's policy for the TTL of a response that says nothing about
// its freshness: 0 when there is no policy hook or it leaves it to the configuration.
func (h *handler) policyTTL(q *request, status int, hdr http.Header) time.Duration {
	if q.rules == nil || q.rules.TTL == nil {
		return 0
	}
	view := map[string]any{"status": status, "header": lowerHeader(hdr)}
	ttl, err := q.rules.TTL(q.r.Context(), cached.Call{Func: q.rt.name, Key: q.key, Args: []any{policyRequest(q.r, q.rt.name)}}, view)
	if err != nil {
		return 0
	}
	return ttl
}

func lowerHeader(h http.Header) map[string]string {
	m := make(map[string]string, len(h))
	for k, v := range h {
		if len(v) > 0 && k != "Set-Cookie" {
			m[strings.ToLower(k)] = v[0]
		}
	}
	return m
}

// tagsOf reads the response's Cache-Tag (comma-separated) and Surrogate-Key
// (space-separated) headers.
func tagsOf(h http.Header) []string {
	var tags []string
	for _, line := range h["Cache-Tag"] {
		for t := range strings.SplitSeq(line, ",") {
			if t = strings.TrimSpace(t); t != "" {
				tags = append(tags, t)
			}
		}
	}
	for _, line := range h["Surrogate-Key"] {
		tags = append(tags, strings.Fields(line)...)
	}
	return tags
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

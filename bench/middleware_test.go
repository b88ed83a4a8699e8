package bench

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bench/internal/httpbench"
)

// The benchmarks of package middleware (issue 7): a GET through a chi router, in process
// (router.ServeHTTP with a writer that discards), with and without middleware.Cache. The
// loopback numbers (a real http.Server under wrk) come from cmd/httpbench and
// wrk_middleware.sh, not from here: see docs/benchmarks.md, "Issue 7".

// discardWriter is the ResponseWriter of the in-process benchmarks: it keeps the status
// and counts the body's bytes. Its header map is made once and cleared between requests
// (clear keeps the map's buckets), so the writer allocates nothing itself and what a
// benchmark reports is the router's, the middleware's and the handler's. A real
// ResponseWriter costs more per header field (net/http clones the handler's header map at
// WriteHeader and then writes every field), which these numbers leave out; the loopback
// run has it.
type discardWriter struct {
	header http.Header
	status int
	n      int
}

func newDiscardWriter() *discardWriter { return &discardWriter{header: make(http.Header, 16)} }

func (w *discardWriter) Header() http.Header { return w.header }

func (w *discardWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *discardWriter) reset() {
	clear(w.header)
	w.status, w.n = 0, 0
}

// check fails unless the last response was the page, whole, with a Cache-Status that
// starts with status ("" for none: the bare router).
func (w *discardWriter) check(status string) error {
	if w.status != http.StatusOK || w.n != len(httpbench.Body) {
		return fmt.Errorf("status %d, %d bytes; want 200, %d bytes", w.status, w.n, len(httpbench.Body))
	}
	cs := w.header.Get("Cache-Status")
	if (status == "") != (cs == "") || !strings.HasPrefix(cs, status) {
		return fmt.Errorf("Cache-Status %q; want %q", cs, status)
	}
	return nil
}

const (
	pageURL   = "http://example.com" + httpbench.Path
	hitStatus = "cached; hit"
	// missStatus is what the request that ran the handler and stored its response gets.
	missStatus = "cached; fwd=uri-miss; stored"
)

// BenchmarkMiddleware is one GET of httpbench.Page (1 KB, Content-Type and
// Cache-Control: max-age=3600 set with Header().Set) through a chi router:
//   - bare: no middleware;
//   - hit: middleware.Cache(c) given to the router's Use, the page stored before timing,
//     so every request is a fresh hit (the handler never runs; checked with the cache's
//     Loads counter);
//   - hit-route: the same with the middleware on the route (r.With), so that chi has
//     routed the request before the middleware runs (Use makes the middleware look the
//     route pattern up itself);
//   - miss: as hit, but every request has a query of its own (?n=<counter>), so each one
//     runs the handler into the recorder, decides the response storable, stores it in the
//     route's in-process tier (64 MiB by default, so a long run evicts) and writes it.
//
// Each goroutine reuses one *http.Request (the miss changes its RawQuery, which costs the
// harness one allocation per request, the query string) and one discardWriter. serial
// is one goroutine, parallel GOMAXPROCS goroutines (b.RunParallel).
//
// The goals: a hit ≤ 1.2× bare in ns/op, with as few allocations as bare; over
// loopback a hit keeps ≥ 0.95× bare's requests/s (wrk_middleware.sh).
func BenchmarkMiddleware(b *testing.B) {
	for _, v := range []struct {
		name   string
		router func(*cached.Cache) http.Handler
		status string // the Cache-Status every timed response starts with
		miss   bool
	}{
		{"bare", func(*cached.Cache) http.Handler { return httpbench.Bare() }, "", false},
		{"hit", func(c *cached.Cache) http.Handler { return httpbench.Cached(c) }, hitStatus, false},
		{"hit-route", func(c *cached.Cache) http.Handler { return httpbench.CachedRoute(c) }, hitStatus, false},
		{"miss", func(c *cached.Cache) http.Handler { return httpbench.Cached(c) }, missStatus, true},
	} {
		b.Run(v.name+"/serial", func(b *testing.B) {
			c, h := openPage(b, v.router, v.miss)
			w, r := newDiscardWriter(), httptest.NewRequest(http.MethodGet, pageURL, nil)
			q := newQueryCounter(0)
			var n uint64
			b.ReportAllocs()
			for b.Loop() {
				if v.miss {
					r.URL.RawQuery = q.next()
				}
				w.reset()
				h.ServeHTTP(w, r)
				if w.status != http.StatusOK || w.n != len(httpbench.Body) {
					b.Fatal(w.check(v.status))
				}
				n++
			}
			if err := w.check(v.status); err != nil {
				b.Fatal(err)
			}
			checkLoads(b, c, v.miss, n)
		})
		b.Run(v.name+"/parallel", func(b *testing.B) {
			c, h := openPage(b, v.router, v.miss)
			var goroutines atomic.Int64
			var total atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w, r := newDiscardWriter(), httptest.NewRequest(http.MethodGet, pageURL, nil)
				q := newQueryCounter(goroutines.Add(1))
				var n uint64
				defer func() { total.Add(n) }()
				for pb.Next() {
					if v.miss {
						r.URL.RawQuery = q.next()
					}
					w.reset()
					h.ServeHTTP(w, r)
					if w.status != http.StatusOK || w.n != len(httpbench.Body) {
						// FailNow must not be called from a RunParallel goroutine.
						b.Error(w.check(v.status))
						return
					}
					n++
				}
				if n > 0 {
					if err := w.check(v.status); err != nil {
						b.Error(err)
					}
				}
			})
			checkLoads(b, c, v.miss, total.Load())
		})
	}
}

// openPage builds the variant's router on a new Cache, closed when b ends. For the
// cached variants it requests the page twice and checks that the first request stored
// it and the second was a hit.
func openPage(b *testing.B, router func(*cached.Cache) http.Handler, miss bool) (*cached.Cache, http.Handler) {
	b.Helper()
	c := cached.New()
	b.Cleanup(func() { c.Close() })
	h := router(c)
	if miss {
		return c, h
	}
	w, r := newDiscardWriter(), httptest.NewRequest(http.MethodGet, pageURL, nil)
	for i, want := range []string{missStatus, hitStatus} {
		w.reset()
		h.ServeHTTP(w, r)
		if w.header.Get("Cache-Status") == "" {
			break // the bare router
		}
		if err := w.check(want); err != nil {
			b.Fatalf("warm-up request %d: %v", i+1, err)
		}
	}
	return c, h
}

// checkLoads fails b unless the handler ran once per timed request (miss) or only for
// the warm-up request (the hits; the bare router has no cache and no loads).
func checkLoads(b *testing.B, c *cached.Cache, miss bool, requests uint64) {
	b.Helper()
	loads := c.Stats().Funcs[httpbench.Path].Loads
	switch {
	case miss && loads != requests:
		b.Errorf("%d requests with new URLs ran %d loads; want one each", requests, loads)
	case !miss && loads > 1:
		b.Errorf("%d hits ran %d loads; want only the warm-up's", requests, loads)
	}
}

// queryCounter makes a new query string per request, n=<goroutine>.<counter>, in a
// reused buffer: one allocation per query, the string.
type queryCounter struct {
	buf    []byte
	prefix int
	i      uint64
}

func newQueryCounter(goroutine int64) *queryCounter {
	q := &queryCounter{buf: make([]byte, 0, 32)}
	q.buf = append(q.buf, "n="...)
	q.buf = strconv.AppendInt(q.buf, goroutine, 10)
	q.buf = append(q.buf, '.')
	q.prefix = len(q.buf)
	return q
}

func (q *queryCounter) next() string {
	q.i++
	q.buf = strconv.AppendUint(q.buf[:q.prefix], q.i, 10)
	return string(q.buf)
}

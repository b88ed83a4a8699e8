// Package httpbench is the page the HTTP middleware benchmarks serve: one chi route whose
// handler answers every GET with the same 1 KB body, behind no middleware (Bare) or
// behind middleware.Cache (Cached, CachedRoute). bench/middleware_test.go (in process)
// and bench/cmd/httpbench (over loopback, for wrk) both use it, so that their numbers
// are of the same handler and routers.
package httpbench

import (
	"bytes"
	"net/http"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

// Path is the route of the page.
const Path = "/page"

// Body is the page: 1,024 bytes of text.
var Body = bytes.Repeat([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n"), 16)

// Page is the handler. It sets Content-Type and Cache-Control: max-age=3600, which is what
// lets middleware.Cache(c) store its response; the bare router runs the same handler, so
// that the two differ only by the middleware.
func Page(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "max-age=3600")
	w.Write(Body)
}

// Bare is a chi router serving Page at GET Path.
func Bare() *chi.Mux {
	r := chi.NewRouter()
	r.Get(Path, Page)
	return r
}

// Cached is Bare with middleware.Cache(c, opts...) given to Use: the middleware runs
// before chi routes the request, and looks the route pattern up itself.
func Cached(c *cached.Cache, opts ...middleware.Option) *chi.Mux {
	r := chi.NewRouter()
	r.Use(middleware.Cache(c, opts...))
	r.Get(Path, Page)
	return r
}

// CachedRoute is Bare with middleware.Cache(c, opts...) on the route only (With): chi has
// routed the request when the middleware runs.
func CachedRoute(c *cached.Cache, opts ...middleware.Option) *chi.Mux {
	r := chi.NewRouter()
	r.With(middleware.Cache(c, opts...)).Get(Path, Page)
	return r
}

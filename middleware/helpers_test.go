package middleware_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// origin is a handler that counts its calls and answers with fn.
type origin struct {
	calls atomic.Int64
	fn    http.HandlerFunc
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o.calls.Add(1)
	o.fn(w, r)
}

// newCache returns a Cache closed when the test ends.
func newCache(t *testing.T, opts ...cached.Option) *cached.Cache {
	t.Helper()
	c := cached.New(opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

// router mounts h at GET and POST pattern behind the middleware.
func router(c *cached.Cache, pattern string, h http.Handler, opts ...middleware.Option) *chi.Mux {
	r := chi.NewRouter()
	r.Use(middleware.Cache(c, opts...))
	r.Method(http.MethodGet, pattern, h)
	r.Method(http.MethodHead, pattern, h)
	r.Method(http.MethodPost, pattern, h)
	r.Method(http.MethodPut, pattern, h)
	r.Method(http.MethodDelete, pattern, h)
	return r
}

// do sends one request through h and returns the recorded response and its body.
func do(h http.Handler, method, target string, header ...string) (*httptest.ResponseRecorder, string) {
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	b, _ := io.ReadAll(w.Result().Body)
	return w, string(b)
}

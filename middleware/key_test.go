package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

func TestQueryIsSortedAndOptionallyFiltered(t *testing.T) {
	o := counted()
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p?a=1&b=2")
	if _, body := do(h, "GET", "/p?b=2&a=1"); body != "GET call 1" {
		t.Fatalf("reordered query: %q; want the stored response", body)
	}
	if _, body := do(h, "GET", "/p?a=1&b=3"); body != "GET call 2" {
		t.Fatalf("another value: %q; want a new response", body)
	}

	o = counted()
	h = router(newCache(t), "/p", o, middleware.KeepQuery("id"))
	do(h, "GET", "/p?id=1&utm_source=x")
	if _, body := do(h, "GET", "/p?utm_source=y&id=1"); body != "GET call 1" {
		t.Fatalf("KeepQuery(id), other utm_source: %q; want the stored response", body)
	}
	if _, body := do(h, "GET", "/p?id=2"); body != "GET call 2" {
		t.Fatalf("KeepQuery(id), other id: %q; want a new response", body)
	}
}

func TestHostIsKeyed(t *testing.T) {
	o := counted()
	h := router(newCache(t), "/p", o)
	do(h, "GET", "http://a.example/p")
	if _, body := do(h, "GET", "http://A.EXAMPLE/p"); body != "GET call 1" {
		t.Fatalf("same host in capitals: %q; want the stored response", body)
	}
	if _, body := do(h, "GET", "http://b.example/p"); body != "GET call 2" {
		t.Fatalf("another host: %q; want a new response", body)
	}
}

func TestVaryKeysByTheNamedHeaders(t *testing.T) {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "Accept-Language")
		fmt.Fprintf(w, "lang=%s call %d", r.Header.Get("Accept-Language"), o.calls.Load())
	}
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p", "Accept-Language", "fr")
	if _, body := do(h, "GET", "/p", "Accept-Language", "de"); body != "lang=de call 2" {
		t.Fatalf("de after fr: %q; want a response for de", body)
	}
	for _, lang := range []string{"fr", "de"} {
		w, body := do(h, "GET", "/p", "Accept-Language", lang)
		if !strings.HasPrefix(body, "lang="+lang) || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			t.Fatalf("%s again: %q %q; want its own stored response", lang, body, w.Header().Get("Cache-Status"))
		}
	}
	if n := o.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times; want 2", n)
	}
}

func TestVaryStarIsNeverServed(t *testing.T) {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Vary", "*")
		fmt.Fprintf(w, "call %d", o.calls.Load())
	}
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p")
	if _, body := do(h, "GET", "/p"); body != "call 2" {
		t.Fatalf("Vary: * response served from cache: %q", body)
	}
}

func TestRoutePatternNamesTheFunction(t *testing.T) {
	c := newCache(t)
	r := chi.NewRouter()
	r.Use(middleware.Cache(c))
	h := counted()
	r.Get("/users/{id}", h.ServeHTTP)
	r.Route("/api", func(r chi.Router) {
		r.Get("/items/{id}", h.ServeHTTP)
	})
	for _, p := range []string{"/users/1", "/users/2", "/api/items/3"} {
		do(r, "GET", p)
	}
	r2 := chi.NewRouter()
	r2.With(middleware.Cache(c, middleware.Name("orders"))).Get("/orders/{id}", h.ServeHTTP)
	do(r2, "GET", "/orders/4")
	stats := c.Stats().Funcs
	for name, misses := range map[string]uint64{"/users/{id}": 2, "/api/items/{id}": 1, "orders": 1} {
		if got := stats[name].Misses; got != misses {
			t.Errorf("Stats[%q].Misses = %d; want %d (stats: %v)", name, got, misses, stats)
		}
	}
}

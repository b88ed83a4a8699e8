package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

// headed answers with the given response headers and its call count.
func headed(kv ...string) *origin {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(kv); i += 2 {
			w.Header().Add(kv[i], kv[i+1])
		}
		fmt.Fprintf(w, "call %d", o.calls.Load())
	}
	return o
}

// freshFor reports how long the response stays a hit, probing every second for up to
// limit, under synctest's clock.
func freshFor(t *testing.T, h http.Handler, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	do(h, "GET", "/p")
	for time.Since(start) < limit {
		time.Sleep(time.Second)
		if w, _ := do(h, "GET", "/p"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			return time.Since(start)
		}
	}
	return limit
}

func TestFreshnessOrder(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header []string
		opts   []middleware.Option
		want   time.Duration // how long it is a hit, to the second; 0: not stored
	}{
		{"nothing: not stored", nil, nil, 0},
		{"route TTL", nil, []middleware.Option{middleware.TTL(20 * time.Second)}, 20 * time.Second},
		{"max-age", []string{"Cache-Control", "max-age=30"}, nil, 30 * time.Second},
		{"max-age over TTL", []string{"Cache-Control", "max-age=30"}, []middleware.Option{middleware.TTL(time.Hour)}, 30 * time.Second},
		{"s-maxage over max-age", []string{"Cache-Control", "max-age=5, s-maxage=40"}, nil, 40 * time.Second},
		{"max-age over Expires", []string{"Cache-Control", "max-age=10", "Expires", "FUTURE:100"}, nil, 10 * time.Second},
		{"Expires minus Date", []string{"Expires", "FUTURE:50"}, nil, 50 * time.Second},
		{"invalid Expires is expired", []string{"Expires", "0"}, []middleware.Option{middleware.TTL(time.Hour)}, 0},
		{"Age counts against max-age", []string{"Cache-Control", "max-age=60", "Age", "45"}, nil, 15 * time.Second},
		{"max-age=0", []string{"Cache-Control", "max-age=0"}, []middleware.Option{middleware.TTL(time.Hour)}, 0},
		{"no-store", []string{"Cache-Control", "no-store, max-age=60"}, nil, 0},
		{"private", []string{"Cache-Control", "private, max-age=60"}, nil, 0},
		{"Set-Cookie", []string{"Cache-Control", "max-age=60", "Set-Cookie", "s=1"}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := cached.New()
				defer c.Close()
				header := make([]string, len(tc.header))
				for i, v := range tc.header {
					if after, ok := strings.CutPrefix(v, "FUTURE:"); ok {
						d, _ := time.ParseDuration(after + "s")
						v = time.Now().Add(d).UTC().Format(http.TimeFormat)
					}
					header[i] = v
				}
				h := router(c, "/p", headed(header...), tc.opts...)
				// The jitter of HTTP responses only shortens a TTL, by up to a tenth; the
				// probe is per second.
				got := freshFor(t, h, 2*time.Minute)
				if tc.want == 0 && got > time.Second || got < tc.want*9/10-time.Second || got > tc.want+time.Second {
					t.Fatalf("a hit for %v; want %v (less up to a tenth)", got, tc.want)
				}
			})
		})
	}
}

func TestNoCacheIsStoredAndRevalidated(t *testing.T) {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache, max-age=600")
		w.Header().Set("ETag", `"v1"`)
		if r.Header.Get("If-None-Match") == `"v1"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		fmt.Fprintf(w, "body %d", o.calls.Load())
	}
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p")
	w, body := do(h, "GET", "/p")
	if body != "body 1" || w.Code != 200 || w.Header().Get("Cache-Status") != "cached; fwd=stale; fwd-status=304" {
		t.Fatalf("second = %d %q %q; want the stored body after a 304 from the handler", w.Code, body, w.Header().Get("Cache-Status"))
	}
	if n := o.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times; want 2 (every use revalidated)", n)
	}
}

func TestAuthorization(t *testing.T) {
	for _, tc := range []struct {
		cc     string
		shared bool
	}{
		{"max-age=60", false},
		{"public, max-age=60", true},
		{"s-maxage=60", true},
		{"max-age=60, must-revalidate", true},
	} {
		t.Run(tc.cc, func(t *testing.T) {
			o := headed("Cache-Control", tc.cc)
			h := router(newCache(t), "/p", o)
			do(h, "GET", "/p") // stored for anonymous requests
			w, _ := do(h, "GET", "/p", "Authorization", "Bearer x")
			if hit := strings.Contains(w.Header().Get("Cache-Status"), "hit"); hit != tc.shared {
				t.Fatalf("request with Authorization served from cache = %v (%q); want %v",
					hit, w.Header().Get("Cache-Status"), tc.shared)
			}
			// A response produced for an Authorization request is stored only if it allows it.
			o2 := headed("Cache-Control", tc.cc)
			h2 := router(newCache(t), "/p", o2)
			do(h2, "GET", "/p", "Authorization", "Bearer x")
			do(h2, "GET", "/p")
			if stored := o2.calls.Load() == 1; stored != tc.shared {
				t.Fatalf("response to an Authorization request stored = %v; want %v", stored, tc.shared)
			}
		})
	}
}

func TestCookies(t *testing.T) {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		lang, _ := r.Cookie("lang")
		v := ""
		if lang != nil {
			v = lang.Value
		}
		fmt.Fprintf(w, "lang=%s call %d", v, o.calls.Load())
	}
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p")
	w, body := do(h, "GET", "/p", "Cookie", "session=secret")
	if body != "lang= call 2" || w.Header().Get("Cache-Status") != "cached; fwd=request" {
		t.Fatalf("request with a cookie: %q %q; want the handler, uncached", body, w.Header().Get("Cache-Status"))
	}

	o.calls.Store(0)
	h = router(newCache(t), "/p", o, middleware.AllowCookies("lang"))
	do(h, "GET", "/p", "Cookie", "lang=fr; session=a")
	if _, body := do(h, "GET", "/p", "Cookie", "session=b; lang=fr"); body != "lang=fr call 1" {
		t.Fatalf("same lang cookie, other session: %q; want the stored response", body)
	}
	if _, body := do(h, "GET", "/p", "Cookie", "lang=de"); body != "lang=de call 2" {
		t.Fatalf("other lang cookie: %q; want a new response", body)
	}
}

// A Cache middleware on a route inside a router-wide one: the outer one stores, with the
// inner one's options, and the handler runs once.
func TestNestedMiddlewareLendsItsOptions(t *testing.T) {
	c := newCache(t)
	o := headed() // says nothing about freshness
	r := chi.NewRouter()
	r.Use(middleware.Cache(c))
	r.With(middleware.Cache(c, middleware.TTL(time.Minute))).Get("/p", o.ServeHTTP)
	do(r, "GET", "/p")
	if w, _ := do(r, "GET", "/p"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") || o.calls.Load() != 1 {
		t.Fatalf("second request %q, handler ran %d times; want a hit, once", w.Header().Get("Cache-Status"), o.calls.Load())
	}
}

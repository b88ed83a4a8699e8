package middleware_test

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/cachedgo/cached/middleware"
)

// counted answers with its call count in the body, max-age=60 unless the request asks
// for a status with ?status=.
func counted() *origin {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		if s := r.URL.Query().Get("status"); s != "" {
			n, _ := strconv.Atoi(s)
			w.WriteHeader(n)
		}
		fmt.Fprintf(w, "%s call %d", r.Method, o.calls.Load())
	}
	return o
}

func TestGetIsCachedAndHeadServedFromIt(t *testing.T) {
	o := counted()
	h := router(newCache(t), "/p", o)
	w, body := do(h, "HEAD", "/p")
	if w.Code != 200 || body != "" || w.Header().Get("Content-Length") != "10" {
		t.Fatalf("HEAD = %d %q Content-Length %q; want 200, no body, the GET's length", w.Code, body, w.Header().Get("Content-Length"))
	}
	w, body = do(h, "GET", "/p")
	if body != "GET call 1" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("GET after HEAD = %q %q; want the GET response the HEAD stored, a hit", body, w.Header().Get("Cache-Status"))
	}
	if w, _ := do(h, "HEAD", "/p"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
		t.Fatalf("second HEAD Cache-Status %q; want a hit", w.Header().Get("Cache-Status"))
	}
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times; want 1", n)
	}
}

func TestUnsafeMethodInvalidatesOnSuccessOnly(t *testing.T) {
	o := counted()
	h := router(newCache(t), "/p", o)
	do(h, "GET", "/p")
	do(h, "POST", "/p?status=500")
	if _, body := do(h, "GET", "/p"); body != "GET call 1" {
		t.Fatalf("after a failed POST: %q; want the stored response", body)
	}
	for _, m := range []string{"POST", "PUT", "DELETE"} {
		w, _ := do(h, m, "/p")
		if w.Header().Get("Cache-Status") != "cached; fwd=method" {
			t.Errorf("%s Cache-Status %q; want fwd=method", m, w.Header().Get("Cache-Status"))
		}
		before := o.calls.Load()
		if _, body := do(h, "GET", "/p"); body != fmt.Sprintf("GET call %d", before+1) {
			t.Fatalf("GET after a successful %s: %q; want a new response", m, body)
		}
	}
}

func TestUnsafeMethodInvalidatesLocation(t *testing.T) {
	c := newCache(t)
	o := counted()
	r := router(c, "/items/{id}", o)
	r.Post("/items", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/items/7")
		w.WriteHeader(http.StatusCreated)
	})
	do(r, "GET", "/items/7")
	do(r, "POST", "/items")
	if _, body := do(r, "GET", "/items/7"); body != "GET call 2" {
		t.Fatalf("after a POST whose Location names it: %q; want a new response", body)
	}
}

func TestCacheableStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		opts   []middleware.Option
		stored bool
	}{
		{200, nil, true}, {203, nil, true}, {204, nil, true}, {300, nil, true}, {301, nil, true},
		{308, nil, true}, {404, nil, true}, {405, nil, true}, {410, nil, true}, {414, nil, true},
		{501, nil, true},
		{201, nil, false}, {302, nil, false}, {307, nil, false}, {400, nil, false}, {403, nil, false},
		{500, nil, false}, {503, nil, false},
		{302, []middleware.Option{middleware.Statuses(200, 302)}, true},
		{404, []middleware.Option{middleware.Statuses(200, 302)}, false},
	} {
		t.Run(fmt.Sprint(tc.status, len(tc.opts)), func(t *testing.T) {
			o := counted()
			h := router(newCache(t), "/p", o, tc.opts...)
			target := "/p?status=" + strconv.Itoa(tc.status)
			w, _ := do(h, "GET", target)
			if w.Code != tc.status {
				t.Fatalf("status %d; want %d", w.Code, tc.status)
			}
			do(h, "GET", target)
			if stored := o.calls.Load() == 1; stored != tc.stored {
				t.Fatalf("stored = %v (handler ran %d times); want %v", stored, o.calls.Load(), tc.stored)
			}
		})
	}
}

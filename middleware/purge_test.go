package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
)

// tagged answers with Cache-Tag: the path's last segment and "all", and a body that
// counts calls per path.
func tagged() *origin {
	o := &origin{}
	var mu sync.Mutex
	calls := map[string]int{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		name := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		w.Header().Set("Cache-Control", "max-age=600")
		w.Header().Set("Cache-Tag", "all, "+name)
		w.Header().Set("Surrogate-Key", "sk-"+name)
		calls[name]++
		fmt.Fprintf(w, "%s v%d", name, calls[name])
	}
	return o
}

// tick lets synctest's clock move on, so that a purge comes after the responses stored
// before it (a purge applies to responses stored strictly before it).
func tick() { time.Sleep(time.Millisecond) }

func TestSoftPurgeByTagServesStaleWhileOneRefreshRuns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		o := tagged()
		h := router(c, "/t/{name}", o)
		for _, p := range []string{"/t/a", "/t/b", "/t/c"} {
			do(h, "GET", p)
		}
		tick()
		if err := middleware.Purge(context.Background(), c, middleware.Target{Tags: []string{"all"}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"/t/a", "/t/b", "/t/c"} {
			w, body := do(h, "GET", p)
			if !strings.HasSuffix(body, "v1") || w.Header().Get("Cache-Status") != "cached; hit; ttl=0; detail=purged" {
				t.Fatalf("%s after a soft purge: %q %q; want the old body, marked purged", p, body, w.Header().Get("Cache-Status"))
			}
		}
		synctest.Wait() // the refreshes
		if n := o.calls.Load(); n != 6 {
			t.Fatalf("handler ran %d times; want 6 (3 stores, then one refresh each)", n)
		}
		for _, p := range []string{"/t/a", "/t/b", "/t/c"} {
			if w, body := do(h, "GET", p); !strings.HasSuffix(body, "v2") || !strings.Contains(w.Header().Get("Cache-Status"), "hit; ttl=") {
				t.Fatalf("%s after the refresh: %q %q; want the new body, a hit", p, body, w.Header().Get("Cache-Status"))
			}
		}
	})
}

func TestHardPurgeAndPurgeByURL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		h := router(c, "/t/{name}", tagged())
		do(h, "GET", "/t/a")
		do(h, "GET", "/t/b")
		do(h, "GET", "/t/b?x=1")
		ctx := context.Background()
		tick()
		middleware.Purge(ctx, c, middleware.Target{Tags: []string{"sk-a"}, Hard: true})
		if w, body := do(h, "GET", "/t/a"); body != "a v2" || w.Header().Get("Cache-Status") != "cached; fwd=uri-miss; stored" {
			t.Fatalf("after a hard purge by Surrogate-Key: %q %q; want a new response at once", body, w.Header().Get("Cache-Status"))
		}
		tick()
		middleware.Purge(ctx, c, middleware.Target{URLs: []string{"http://example.com/t/b?x=1"}, Hard: true})
		if _, body := do(h, "GET", "/t/b"); body != "b v1" {
			t.Fatalf("/t/b after purging /t/b?x=1: %q; want the stored response", body)
		}
		if _, body := do(h, "GET", "/t/b?x=1"); body != "b v3" {
			t.Fatalf("/t/b?x=1 after its purge: %q; want a new response", body)
		}
		tick()
		middleware.Purge(ctx, c, middleware.Target{URLs: []string{"/t/b"}, Hard: true})
		if _, body := do(h, "GET", "/t/b"); body != "b v4" {
			t.Fatalf("/t/b after a host-relative purge: %q; want a new response", body)
		}
		if err := middleware.Purge(ctx, c, middleware.Target{URLs: []string{"http://[::1"}}); err == nil {
			t.Fatal("a malformed purge URL: no error")
		}
	})
}

// A soft-purged response is served stale for PurgeGrace at most: past it, a request
// whose refresh failed waits for a new response.
func TestSoftPurgeGraceEnds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		var down bool
		o := &origin{}
		o.fn = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "max-age=600")
			if down {
				http.Error(w, "down", http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintf(w, "v%d", o.calls.Load())
		}
		h := router(c, "/p", o, middleware.PurgeGrace(10*time.Second))
		do(h, "GET", "/p")
		down = true
		tick()
		middleware.Purge(context.Background(), c, middleware.Target{URLs: []string{"/p"}})
		if _, body := do(h, "GET", "/p"); body != "v1" {
			t.Fatalf("within the grace: %q; want the stale body", body)
		}
		synctest.Wait() // the refresh fails
		time.Sleep(11 * time.Second)
		down = false
		if w, body := do(h, "GET", "/p"); body != "v3" || w.Header().Get("Cache-Status") != "cached; fwd=uri-miss; stored" {
			t.Fatalf("past the grace: %q %q; want a new response", body, w.Header().Get("Cache-Status"))
		}
	})
}

func TestPurgeReachesOtherInstancesOnTheBus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var bus cached.LocalBus
		c1, c2 := cached.New(cached.WithBus(&bus)), cached.New(cached.WithBus(&bus))
		defer c1.Close()
		defer c2.Close()
		o1, o2 := tagged(), tagged()
		h1, h2 := router(c1, "/t/{name}", o1), router(c2, "/t/{name}", o2)
		do(h1, "GET", "/t/a")
		do(h2, "GET", "/t/a")
		tick()
		if err := middleware.Purge(context.Background(), c1, middleware.Target{Tags: []string{"a"}, Hard: true}); err != nil {
			t.Fatal(err)
		}
		if _, body := do(h2, "GET", "/t/a"); body != "a v2" {
			t.Fatalf("other instance after a hard purge: %q; want a new response", body)
		}
		// An unsafe method on one instance invalidates the URL on the other.
		do(h2, "GET", "/t/a")
		tick()
		do(h1, "DELETE", "/t/a")
		if _, body := do(h2, "GET", "/t/a"); body != "a v3" {
			t.Fatalf("other instance after a DELETE: %q; want a new response", body)
		}
	})
}

func TestAdminHandler(t *testing.T) {
	c := newCache(t)
	o := tagged()
	h := router(c, "/t/{name}", o)
	admin := middleware.AdminHandler(c, func(r *http.Request) bool { return r.Header.Get("X-Token") == "s3cret" })
	send := func(method, token string, form url.Values) int {
		req := httptest.NewRequest(method, "/purge", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set("X-Token", token)
		}
		w := httptest.NewRecorder()
		admin.ServeHTTP(w, req)
		return w.Code
	}
	do(h, "GET", "/t/a")
	purge := url.Values{"tag": {"a"}, "hard": {"true"}}
	for _, tc := range []struct {
		method, token string
		form          url.Values
		code          int
	}{
		{"POST", "", purge, 403},
		{"POST", "wrong", purge, 403},
		{"GET", "s3cret", purge, 405},
		{"POST", "s3cret", url.Values{}, 400},
		{"POST", "s3cret", url.Values{"url": {"http://[::1"}}, 400},
	} {
		if code := send(tc.method, tc.token, tc.form); code != tc.code {
			t.Errorf("%s token %q %v: %d; want %d", tc.method, tc.token, tc.form, code, tc.code)
		}
	}
	if _, body := do(h, "GET", "/t/a"); body != "a v1" {
		t.Fatalf("refused purges purged: %q", body)
	}
	if code := send("PURGE", "s3cret", purge); code != 204 {
		t.Fatalf("authorized purge: %d; want 204", code)
	}
	if _, body := do(h, "GET", "/t/a"); body != "a v2" {
		t.Fatalf("after an authorized hard purge: %q; want a new response", body)
	}
	defer func() {
		if recover() == nil {
			t.Error("AdminHandler without an authorization check did not panic")
		}
	}()
	middleware.AdminHandler(c, nil)
}

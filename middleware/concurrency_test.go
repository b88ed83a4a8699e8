package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
)

// burst sends n concurrent GETs of /p through h once they are all waiting, and returns
// their bodies and Cache-Status lines.
func burst(t *testing.T, h http.Handler, n int, release chan struct{}) (bodies, statuses map[string]int) {
	t.Helper()
	var mu sync.Mutex
	bodies, statuses = map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			w, body := do(h, "GET", "/p")
			mu.Lock()
			bodies[body]++
			statuses[w.Header().Get("Cache-Status")]++
			mu.Unlock()
		})
	}
	synctest.Wait() // every request is in the handler or waiting for it
	close(release)
	wg.Wait()
	return bodies, statuses
}

func TestColdURLUnderConcurrencyRunsHandlerOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		release := make(chan struct{})
		o := &origin{}
		o.fn = func(w http.ResponseWriter, r *http.Request) {
			<-release
			w.Header().Set("Cache-Control", "max-age=60")
			fmt.Fprintf(w, "call %d", o.calls.Load())
		}
		bodies, statuses := burst(t, router(c, "/p", o), 500, release)
		if n := o.calls.Load(); n != 1 {
			t.Fatalf("handler ran %d times for 500 concurrent cold requests; want 1", n)
		}
		if bodies["call 1"] != 500 {
			t.Fatalf("bodies %v; want 500 × call 1", bodies)
		}
		if statuses["cached; fwd=uri-miss; stored"] != 1 || statuses["cached; fwd=uri-miss; collapsed"] != 499 {
			t.Fatalf("Cache-Status lines %v; want 1 stored, 499 collapsed", statuses)
		}
	})
}

// A response that may not be shared is never given to the requests collapsed onto the
// one that produced it: each runs the handler for itself.
func TestPrivateResponseIsNotSharedWithCollapsedRequests(t *testing.T) {
	for _, header := range [][2]string{{"Cache-Control", "private, max-age=60"}, {"Set-Cookie", "session=1"}} {
		t.Run(header[0], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := cached.New()
				defer c.Close()
				release := make(chan struct{})
				var first atomic.Bool
				var seq atomic.Int64
				o := &origin{}
				o.fn = func(w http.ResponseWriter, r *http.Request) {
					if first.CompareAndSwap(false, true) {
						<-release
					}
					w.Header().Set("Cache-Control", "max-age=60")
					w.Header().Add(header[0], header[1])
					fmt.Fprintf(w, "for caller %d", seq.Add(1))
				}
				bodies, _ := burst(t, router(c, "/p", o), 50, release)
				if n := o.calls.Load(); n != 50 {
					t.Fatalf("handler ran %d times; want 50 (one per request)", n)
				}
				if len(bodies) != 50 {
					t.Fatalf("%d distinct bodies; want 50: a private response was shared", len(bodies))
				}
			})
		})
	}
}

func TestStaleWhileRevalidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cc   string
		opts []middleware.Option
	}{
		{"from Cache-Control", "max-age=10, stale-while-revalidate=30", nil},
		{"from the option", "max-age=10", []middleware.Option{middleware.StaleWhileRevalidate(30 * time.Second)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := cached.New()
				defer c.Close()
				h := router(c, "/p", headed("Cache-Control", tc.cc), tc.opts...)
				do(h, "GET", "/p")
				time.Sleep(15 * time.Second)
				w, body := do(h, "GET", "/p")
				if body != "call 1" || !strings.HasPrefix(w.Header().Get("Cache-Status"), "cached; hit; ttl=-") {
					t.Fatalf("stale within the window: %q %q; want the stale body at once", body, w.Header().Get("Cache-Status"))
				}
				synctest.Wait() // the background refresh
				if w, body := do(h, "GET", "/p"); body != "call 2" || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
					t.Fatalf("after the refresh: %q %q; want the refreshed body, a hit", body, w.Header().Get("Cache-Status"))
				}
				time.Sleep(60 * time.Second)
				if _, body := do(h, "GET", "/p"); body != "call 3" {
					t.Fatalf("past the window: %q; want a new response at once", body)
				}
			})
		})
	}
}

func TestStaleIfError(t *testing.T) {
	for _, tc := range []struct {
		name  string
		cc    string
		opts  []middleware.Option
		stale bool
	}{
		{"from Cache-Control", "max-age=10, stale-if-error=60", nil, true},
		{"from the option", "max-age=10", []middleware.Option{middleware.StaleIfError(time.Minute)}, true},
		{"must-revalidate forbids it", "max-age=10, stale-if-error=60, must-revalidate", nil, false},
		{"none", "max-age=10", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				c := cached.New()
				defer c.Close()
				var failing atomic.Bool
				o := &origin{}
				o.fn = func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Cache-Control", tc.cc)
					if failing.Load() {
						http.Error(w, "down", http.StatusServiceUnavailable)
						return
					}
					fmt.Fprint(w, "good")
				}
				h := router(c, "/p", o, tc.opts...)
				do(h, "GET", "/p")
				failing.Store(true)
				time.Sleep(15 * time.Second)
				w, body := do(h, "GET", "/p")
				if served := w.Code == 200 && body == "good"; served != tc.stale {
					t.Fatalf("handler failing: %d %q; stale served = %v, want %v", w.Code, body, served, tc.stale)
				}
				if !tc.stale && w.Code != http.StatusServiceUnavailable {
					t.Fatalf("without stale-if-error: %d; want the handler's 503", w.Code)
				}
			})
		})
	}
}

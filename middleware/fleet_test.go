package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/lock"
	"github.com/cachedgo/cached/store/memcached"
	"github.com/go-chi/chi/v5"
)

// TestFleetOnMemcachedAndEtcd: three instances share a real memcached and take an etcd
// lock. Concurrent cold requests spread over them run the handler once; the responses
// read back from memcached on the other instances are the stored one, headers included.
func TestFleetOnMemcachedAndEtcd(t *testing.T) {
	mc := memcachedtest.Start(t)
	etcd := etcdtest.Start(t)
	release := make(chan struct{})
	var calls sync.Map
	handler := func(w http.ResponseWriter, r *http.Request) {
		<-release
		n, _ := calls.LoadOrStore(r.URL.Path, new(int))
		*n.(*int)++
		w.Header().Set("Cache-Control", "max-age=300")
		w.Header().Set("ETag", `"e1"`)
		w.Header().Set("Cache-Tag", "fleet")
		fmt.Fprintf(w, "page %s", chi.URLParam(r, "id"))
	}
	var routers []http.Handler
	for range 3 {
		l, err := lock.NewEtcd(etcd.Client(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		c := newCache(t, cached.WithStore(memcached.New([]string{mc.Addr})), cached.WithLocker(l),
			cached.LockTimeout(10*time.Second))
		routers = append(routers, router(c, "/f/{id}", http.HandlerFunc(handler)))
	}
	var wg sync.WaitGroup
	bodies := make(chan string, 90)
	for i := range 90 {
		wg.Go(func() {
			_, body := do(routers[i%3], "GET", "/f/1")
			bodies <- body
		})
	}
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "page 1" {
			t.Fatalf("a request got %q", b)
		}
	}
	n, _ := calls.Load("/f/1")
	if got := *n.(*int); got != 1 {
		t.Fatalf("handler ran %d times across 3 instances; want 1", got)
	}
	for i, h := range routers {
		w, body := do(h, "GET", "/f/1")
		if body != "page 1" || w.Header().Get("ETag") != `"e1"` || !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			t.Fatalf("instance %d: %q %v; want the stored response, a hit", i, body, w.Header())
		}
	}
}

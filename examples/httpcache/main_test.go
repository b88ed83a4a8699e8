package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const token = "test-token"

// origin stands in for the slow part of /articles/{id}: it counts the runs of each path,
// reports each as it starts, and holds them while hold is open.
type origin struct {
	mu   sync.Mutex // protects runs and hold
	runs map[string]int
	hold chan struct{} // nil: runs go on at once
	ran  chan string   // the path of each run, as it starts
}

func newOrigin() *origin { return &origin{runs: map[string]int{}, ran: make(chan string, 1000)} }

func (o *origin) serve(r *http.Request) {
	o.mu.Lock()
	o.runs[r.URL.Path]++
	hold := o.hold
	o.mu.Unlock()
	o.ran <- r.URL.Path
	if hold != nil {
		<-hold
	}
}

func (o *origin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.runs[path]
}

// waitRun waits for a run of the origin for path to start.
func (o *origin) waitRun(t *testing.T, path string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case p := <-o.ran:
			if p == path {
				return
			}
		case <-deadline:
			t.Fatalf("the origin of %s did not run", path)
		}
	}
}

// site serves the example's router on a test server, with a fresh Cache.
type site struct {
	t   *testing.T
	srv *httptest.Server
	o   *origin
}

func newSite(t *testing.T) *site {
	t.Helper()
	c := cached.New()
	o := newOrigin()
	srv := httptest.NewServer(newRouter(c, config{token: token, tick: 10 * time.Millisecond, origin: o.serve}))
	t.Cleanup(func() {
		srv.Close() // waits for the handlers, then the Cache
		c.Close()
	})
	return &site{t: t, srv: srv, o: o}
}

// result is what the tests look at in a response.
type result struct {
	status int
	header http.Header
	body   string
}

func (r result) cacheStatus() string { return r.header.Get("Cache-Status") }

// do sends a request, with header given as name, value pairs, and reads the whole
// response.
func (s *site) do(method, path string, body io.Reader, header ...string) result {
	s.t.Helper()
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (s *site) get(path string, header ...string) result { return s.do("GET", path, nil, header...) }

func (s *site) purge(query string, header ...string) result {
	return s.do("POST", "/admin/purge?"+query, nil, header...)
}

var renderRE = regexp.MustCompile(`render #(\d+)`)

// render is the render number a page of /articles/{id} shows.
func render(t *testing.T, r result) string {
	t.Helper()
	m := renderRE.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatalf("no render number in %q", r.body)
	}
	return m[1]
}

const (
	stored = "cached; fwd=uri-miss; stored"
	miss   = "cached; fwd=uri-miss"
)

func isHit(cs string) bool { return strings.HasPrefix(cs, "cached; hit; ttl=") }

// TestSlowRouteCached: the first request for an article runs its origin and stores the
// page, the next is a hit without running it, with Age, and a 304 answers a matching
// If-None-Match.
func TestSlowRouteCached(t *testing.T) {
	s := newSite(t)
	first := s.get("/articles/1")
	if first.status != 200 || first.cacheStatus() != stored {
		t.Fatalf("first request: %d, Cache-Status %q; want 200, %q", first.status, first.cacheStatus(), stored)
	}
	if got, want := first.header.Get("ETag"), `"article-1.v1"`; got != want {
		t.Errorf("ETag %s; want %s", got, want)
	}
	second := s.get("/articles/1")
	if second.status != 200 || !isHit(second.cacheStatus()) {
		t.Fatalf("second request: %d, Cache-Status %q; want 200, a hit", second.status, second.cacheStatus())
	}
	if second.body != first.body {
		t.Errorf("second body %q; want the stored %q", second.body, first.body)
	}
	if second.header.Get("Age") == "" {
		t.Error("a hit without Age")
	}
	if n := s.o.count("/articles/1"); n != 1 {
		t.Errorf("the origin ran %d times for two requests; want 1", n)
	}

	nm := s.get("/articles/1", "If-None-Match", first.header.Get("ETag"))
	if nm.status != http.StatusNotModified || nm.body != "" || !isHit(nm.cacheStatus()) {
		t.Errorf("If-None-Match: %d, %q, Cache-Status %q; want an empty 304 hit", nm.status, nm.body, nm.cacheStatus())
	}
	if n := s.o.count("/articles/1"); n != 1 {
		t.Errorf("the origin ran %d times after the 304; want 1", n)
	}
}

// TestStampede: requests for a cold article that arrive while its origin runs wait for
// that run instead of starting their own.
func TestStampede(t *testing.T) {
	s := newSite(t)
	hold := make(chan struct{})
	s.o.mu.Lock()
	s.o.hold = hold
	s.o.mu.Unlock()

	const n = 20
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { results <- s.get("/articles/2") })
	}
	s.o.waitRun(t, "/articles/2")
	// Released once the first run has started: the others either joined it or arrive
	// after it and hit. Either way the origin runs once.
	close(hold)
	wg.Wait()
	close(results)
	counts := map[string]int{}
	for r := range results {
		cs := r.cacheStatus()
		if isHit(cs) {
			cs = "hit"
		}
		counts[cs]++
		if r.status != 200 {
			t.Errorf("status %d, Cache-Status %q", r.status, r.cacheStatus())
		}
	}
	if got := s.o.count("/articles/2"); got != 1 {
		t.Errorf("the origin ran %d times for %d concurrent requests; want 1 (Cache-Status: %v)", got, n, counts)
	}
	if counts[stored] != 1 || counts[stored]+counts["cached; fwd=uri-miss; collapsed"]+counts["hit"] != n {
		t.Errorf("Cache-Status counts %v; want one stored, the others collapsed or hits", counts)
	}
}

// TestPurgeNeedsToken: the purge endpoint refuses requests without the token, and
// purges nothing for them.
func TestPurgeNeedsToken(t *testing.T) {
	s := newSite(t)
	s.get("/articles/1")
	for _, tc := range []struct {
		name   string
		header []string
	}{
		{"no token", nil},
		{"wrong token", []string{"Authorization", "Bearer guess"}},
		{"token without Bearer", []string{"Authorization", token}},
	} {
		if r := s.purge("tag=article-1&hard=true", tc.header...); r.status != http.StatusForbidden {
			t.Errorf("%s: purge answered %d; want 403", tc.name, r.status)
		}
	}
	if r := s.get("/articles/1"); !isHit(r.cacheStatus()) {
		t.Errorf("after refused purges: Cache-Status %q; want a hit", r.cacheStatus())
	}
	if r := s.do("GET", "/admin/purge?tag=article-1", nil, "Authorization", "Bearer "+token); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET /admin/purge answered %d; want 405", r.status)
	}
	if n := s.o.count("/articles/1"); n != 1 {
		t.Errorf("the origin ran %d times; want 1", n)
	}
}

// eventually sends GET path until ok says yes, failing the test after a deadline. It is
// for what a background refresh stores: the test has seen the refresh's origin run, and
// only the store of its page remains, which takes microseconds.
func (s *site) eventually(path, what string, ok func(result) bool) result {
	s.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get(path)
		if ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("GET %s: no response %s; the last: %d, Cache-Status %q, %q", path, what, r.status, r.cacheStatus(), r.body)
		}
	}
}

// TestTagPurge: a purge of a tag makes the pages that named it stale: the next request
// is answered with the old page at once while one background run of the origin renders
// a new one, which the requests after it get. A hard purge makes the next request a
// miss. Pages that did not name the tag stay cached.
func TestTagPurge(t *testing.T) {
	s := newSite(t)
	auth := []string{"Authorization", "Bearer " + token}
	old := s.get("/articles/1")
	other := s.get("/articles/2")
	if r := s.purge("tag=article-1", auth...); r.status != http.StatusNoContent {
		t.Fatalf("purge answered %d %q; want 204", r.status, r.body)
	}

	stale := s.get("/articles/1")
	if !isHit(stale.cacheStatus()) || render(t, stale) != render(t, old) {
		t.Errorf("after a soft purge: Cache-Status %q, render #%s; want the stored page (render #%s) served stale",
			stale.cacheStatus(), render(t, stale), render(t, old))
	}
	s.o.waitRun(t, "/articles/1") // the background refresh
	fresh := s.eventually("/articles/1", "with the refreshed page", func(r result) bool { return render(t, r) != render(t, old) })
	if !isHit(fresh.cacheStatus()) {
		t.Errorf("the refreshed page: Cache-Status %q; want a hit", fresh.cacheStatus())
	}
	if n := s.o.count("/articles/1"); n != 2 {
		t.Errorf("the origin ran %d times; want 2: the first request, then one refresh", n)
	}
	if r := s.get("/articles/2"); !isHit(r.cacheStatus()) || r.body != other.body {
		t.Errorf("/articles/2, not tagged article-1: Cache-Status %q; want a hit on the same page", r.cacheStatus())
	}

	if r := s.purge("tag=article-1&hard=true", auth...); r.status != http.StatusNoContent {
		t.Fatalf("hard purge answered %d %q; want 204", r.status, r.body)
	}
	r := s.get("/articles/1")
	if r.cacheStatus() != stored || render(t, r) == render(t, fresh) {
		t.Errorf("after a hard purge: Cache-Status %q, render #%s; want a miss with a new render", r.cacheStatus(), render(t, r))
	}
	if n := s.o.count("/articles/1"); n != 3 {
		t.Errorf("the origin ran %d times; want 3", n)
	}
}

// TestUpdate: a POST that changes an article drops its cached page (the middleware does,
// for the POST's URL) and refreshes the list (the handler purges it).
func TestUpdate(t *testing.T) {
	s := newSite(t)
	s.get("/articles/3")
	if r := s.get("/articles"); r.cacheStatus() != stored {
		t.Fatalf("the list: Cache-Status %q; want %q", r.cacheStatus(), stored)
	}
	form := url.Values{"title": {"Tags, revisited"}}.Encode()
	r := s.do("POST", "/articles/3", strings.NewReader(form), "Content-Type", "application/x-www-form-urlencoded")
	if r.status != 200 || r.body != "article 3 is now version 2\n" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	r = s.get("/articles/3")
	if r.cacheStatus() != stored || !strings.HasPrefix(r.body, "Tags, revisited (article 3, version 2)") {
		t.Errorf("after the POST: Cache-Status %q, %q; want a miss with the new title", r.cacheStatus(), r.body)
	}
	if got, want := r.header.Get("ETag"), `"article-3.v2"`; got != want {
		t.Errorf("ETag %s; want %s", got, want)
	}
	s.eventually("/articles", "listing the new title", func(r result) bool {
		return strings.Contains(r.body, "/articles/3  Tags, revisited\n")
	})
}

// TestTTLRoute: /quote says nothing about caching; its route's TTL option stores it.
func TestTTLRoute(t *testing.T) {
	s := newSite(t)
	first := s.get("/quote")
	second := s.get("/quote")
	if first.cacheStatus() != stored || !isHit(second.cacheStatus()) || second.body != first.body {
		t.Errorf("Cache-Status %q then %q, bodies %q and %q; want stored, then a hit on the same body",
			first.cacheStatus(), second.cacheStatus(), first.body, second.body)
	}
	if cc := first.header.Get("Cache-Control"); cc != "" {
		t.Errorf("Cache-Control %q; want none: the route's TTL decides", cc)
	}
}

// TestPassThrough: a private page and a stream go to their handlers every time, and the
// stream reaches its client as it is written.
func TestPassThrough(t *testing.T) {
	s := newSite(t)
	for i := range 2 {
		if r := s.get("/me"); r.status != 200 || r.cacheStatus() != miss {
			t.Errorf("/me request %d: %d, Cache-Status %q; want 200, %q", i+1, r.status, r.cacheStatus(), miss)
		}
	}
	if r := s.get("/me", "Cookie", "user=ada"); r.cacheStatus() != "cached; fwd=request" || !strings.HasPrefix(r.body, "hello, ada ") {
		t.Errorf("/me with a cookie: Cache-Status %q, %q", r.cacheStatus(), r.body)
	}

	// The stream never ends by itself: reading its first event proves it is not buffered.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.srv.URL+"/events", nil)
	resp, err := s.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if cs := resp.Header.Get("Cache-Status"); cs != miss {
		t.Errorf("/events: Cache-Status %q; want %q", cs, miss)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || line != "event: tick\n" {
		t.Errorf("/events: first line %q, %v", line, err)
	}
}

// lineWriter hands what run prints to the test.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	select {
	case w <- string(p):
	default:
	}
	return len(p), nil
}

// TestRun: the program listens where it is told, prints the tour with its address, and
// the ETag the tour gives for If-None-Match is the one the server sends. It stops when
// its context ends.
func TestRun(t *testing.T) {
	out := make(lineWriter, 100)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, out, "127.0.0.1:0", config{}) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run = %v; want nil after cancel", err)
		}
	}()
	var printed string
	select {
	case printed = <-out:
	case err := <-errc:
		t.Fatalf("run = %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("run printed nothing")
	}
	m := regexp.MustCompile(`listening on (http://\S+)\n`).FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("no address in %q", printed)
	}
	base := m[1]
	for _, want := range []string{
		"curl -si " + base + "/articles/1\n",
		"curl -si -X POST -H 'Authorization: Bearer " + defaultToken + "' '" + base + "/admin/purge?tag=article-1'",
	} {
		if !strings.Contains(printed, want) {
			t.Errorf("the tour has no %q:\n%s", want, printed)
		}
	}
	resp, err := http.Get(base + "/articles/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if want := fmt.Sprintf("-H 'If-None-Match: %s'", resp.Header.Get("ETag")); !strings.Contains(printed, want) {
		t.Errorf("the tour has no %q:\n%s", want, printed)
	}
}

package middleware_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestRealListener runs the middleware behind a real server and a real http.Client:
// what net/http adds and removes on the wire (Date, Content-Length, chunking, HEAD
// bodies, keep-alive) must leave a correct response.
func TestRealListener(t *testing.T) {
	c := newCache(t)
	release := make(chan struct{})
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("ETag", `"v1"`)
		fmt.Fprintf(w, "page %d", o.calls.Load())
	}
	srv := httptest.NewServer(router(c, "/p", o))
	defer srv.Close()
	client := srv.Client()

	get := func(header ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/p", nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return nil, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	var wg sync.WaitGroup
	bodies := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			_, body := get()
			bodies <- body
		})
	}
	// Some requests are waiting on the handler; the rest will hit or collapse.
	close(release)
	wg.Wait()
	close(bodies)
	for b := range bodies {
		if b != "page 1" {
			t.Fatalf("a concurrent request got %q; want page 1", b)
		}
	}
	if n := o.calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times for 50 concurrent requests; want 1", n)
	}
	resp, body := get()
	if body != "page 1" || resp.Header.Get("Content-Length") != "6" || resp.Header.Get("Age") == "" ||
		resp.Header.Get("Date") == "" || resp.Header.Get("Cache-Status") == "" {
		t.Fatalf("hit over the wire: %q %v", body, resp.Header)
	}
	if resp, body := get("If-None-Match", `"v1"`); resp.StatusCode != 304 || body != "" {
		t.Fatalf("conditional over the wire: %d %q; want 304", resp.StatusCode, body)
	}
	head, err := client.Head(srv.URL + "/p")
	if err != nil || head.StatusCode != 200 || head.ContentLength != 6 {
		t.Fatalf("HEAD over the wire: %v %v", head, err)
	}
	head.Body.Close()
	if resp, body := get("Authorization", "Bearer t"); body != "page 1" || resp.StatusCode != 200 {
		t.Fatalf("public response to an Authorization request: %d %q", resp.StatusCode, body)
	}
}

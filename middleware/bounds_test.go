package middleware_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/cachedgo/cached/middleware"
)

func TestLargerThanMaxBodyStreamsUncached(t *testing.T) {
	for _, declared := range []bool{false, true} {
		t.Run(fmt.Sprint("Content-Length declared ", declared), func(t *testing.T) {
			o := &origin{}
			o.fn = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				if declared {
					w.Header().Set("Content-Length", "3000")
				}
				for range 3 {
					w.Write([]byte(strings.Repeat("x", 1000)))
				}
			}
			h := router(newCache(t), "/p", o, middleware.MaxBody(2048))
			for range 2 {
				w, body := do(h, "GET", "/p")
				if len(body) != 3000 || w.Code != 200 {
					t.Fatalf("got %d bytes, %d; want the whole 3000-byte body", len(body), w.Code)
				}
				if got := w.Header().Get("Cache-Status"); got != "cached; fwd=uri-miss" {
					t.Fatalf("Cache-Status %q; want fwd=uri-miss (not stored)", got)
				}
			}
			if n := o.calls.Load(); n != 2 {
				t.Fatalf("handler ran %d times; want 2 (not stored)", n)
			}
		})
	}
}

func TestByteBoundOfTheInProcessTier(t *testing.T) {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=600")
		w.Write([]byte(strings.Repeat("x", 4000)))
	}
	h := router(newCache(t), "/p", o, middleware.MaxBytes(20_000))
	const n = 50
	for range 3 {
		for i := range n {
			do(h, "GET", "/p?i="+strconv.Itoa(i))
		}
	}
	hits := 0
	for i := range n {
		if w, _ := do(h, "GET", "/p?i="+strconv.Itoa(i)); strings.Contains(w.Header().Get("Cache-Status"), "hit") {
			hits++
		}
	}
	if hits == 0 || hits > 5 {
		t.Fatalf("%d of %d 4 KB responses still stored under a 20,000-byte bound; want 1 to 4", hits, n)
	}
}

// A handler that flushes reaches its client unbuffered: the test reads the first chunk
// before the handler writes the second. It is not stored.
func TestFlushingHandlerPassesThroughUnbuffered(t *testing.T) {
	c := newCache(t)
	received := make(chan struct{})
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-received
		fmt.Fprint(w, "data: two\n\n")
	}
	srv := httptest.NewServer(router(c, "/p", o))
	defer srv.Close()
	for i := range 2 {
		resp, err := srv.Client().Get(srv.URL + "/p")
		if err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(resp.Body)
		line, err := br.ReadString('\n')
		if err != nil || line != "data: one\n" {
			t.Fatalf("first event %q, %v", line, err)
		}
		received <- struct{}{}
		rest, _ := io.ReadAll(br)
		resp.Body.Close()
		if string(rest) != "\ndata: two\n\n" {
			t.Fatalf("rest %q", rest)
		}
		if got := resp.Header.Get("Cache-Status"); got != "cached; fwd=uri-miss" {
			t.Fatalf("request %d Cache-Status %q; want fwd=uri-miss", i, got)
		}
	}
	if n := o.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times; want 2 (a stream is not stored)", n)
	}
}

package middleware_test

import (
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

func TestAgeAndCacheStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New()
		defer c.Close()
		h := router(c, "/p", headed("Cache-Control", "max-age=100", "Age", "10"))
		w, _ := do(h, "GET", "/p")
		if got := w.Header().Get("Cache-Status"); got != "cached; fwd=uri-miss; stored" {
			t.Errorf("first Cache-Status %q", got)
		}
		if got := w.Header().Get("Age"); got != "10" {
			t.Errorf("first Age %q; want 10 (the handler's)", got)
		}
		time.Sleep(30 * time.Second)
		w, _ = do(h, "GET", "/p")
		if got := w.Header().Get("Age"); got != "40" {
			t.Errorf("Age 30s later = %q; want 40", got)
		}
		if got := w.Header().Get("Cache-Status"); got != "cached; hit; ttl=60" {
			t.Errorf("Cache-Status 30s later = %q; want cached; hit; ttl=60", got)
		}
		if n := len(w.Header()["Age"]); n != 1 {
			t.Errorf("%d Age lines; want 1", n)
		}
	})
}

func TestHopByHopHeadersAreNotServed(t *testing.T) {
	h := router(newCache(t), "/p", headed("Cache-Control", "max-age=60", "Connection", "X-Conn",
		"X-Conn", "secret", "Keep-Alive", "timeout=5", "Proxy-Authenticate", "Basic", "X-Kept", "yes"))
	do(h, "GET", "/p")
	w, _ := do(h, "GET", "/p")
	for _, k := range []string{"Connection", "X-Conn", "Keep-Alive", "Proxy-Authenticate"} {
		if v := w.Header().Get(k); v != "" {
			t.Errorf("hit carries %s: %q", k, v)
		}
	}
	if w.Header().Get("X-Kept") != "yes" {
		t.Errorf("hit lost an end-to-end header: %v", w.Header())
	}
}

func TestConditionalRequests(t *testing.T) {
	lm := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h := router(newCache(t), "/p", headed("Cache-Control", "max-age=60", "ETag", `"abc"`,
		"Last-Modified", lm.Format(http.TimeFormat), "Content-Type", "text/plain"))
	do(h, "GET", "/p")
	for _, tc := range []struct {
		header []string
		code   int
	}{
		{[]string{"If-None-Match", `"abc"`}, 304},
		{[]string{"If-None-Match", `W/"abc"`}, 304},
		{[]string{"If-None-Match", `"x", "abc"`}, 304},
		{[]string{"If-None-Match", `*`}, 304},
		{[]string{"If-None-Match", `"other"`}, 200},
		{[]string{"If-None-Match", `"other"`, "If-Modified-Since", lm.Format(http.TimeFormat)}, 200},
		{[]string{"If-Modified-Since", lm.Format(http.TimeFormat)}, 304},
		{[]string{"If-Modified-Since", lm.Add(-time.Hour).Format(http.TimeFormat)}, 200},
	} {
		w, body := do(h, "GET", "/p", tc.header...)
		if w.Code != tc.code {
			t.Errorf("%q: %d; want %d", tc.header, w.Code, tc.code)
		}
		if tc.code == 304 && (body != "" || w.Header().Get("ETag") != `"abc"` || w.Header().Get("Content-Type") != "") {
			t.Errorf("%q: 304 with body %q, headers %v; want no body, ETag, no Content-Type", tc.header, body, w.Header())
		}
	}
	// The first request's condition is answered too, and the full response is stored.
	h2 := router(newCache(t), "/p", headed("Cache-Control", "max-age=60", "ETag", `"abc"`))
	if w, _ := do(h2, "GET", "/p", "If-None-Match", `"abc"`); w.Code != 304 {
		t.Fatalf("cold conditional request: %d; want 304", w.Code)
	}
	if _, body := do(h2, "GET", "/p"); body != "call 1" {
		t.Fatalf("after a cold conditional request: %q; want the full stored body", body)
	}
}

func TestRangeFromStoredBody(t *testing.T) {
	h := router(newCache(t), "/p", headed("Cache-Control", "max-age=60"))
	do(h, "GET", "/p")
	w, body := do(h, "GET", "/p", "Range", "bytes=0-3")
	if w.Code != http.StatusPartialContent || body != "call" {
		t.Fatalf("range: %d %q; want 206 \"call\"", w.Code, body)
	}
}

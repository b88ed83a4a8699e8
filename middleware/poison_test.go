package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/cachedgo/cached/middleware"
)

// reflecting builds absolute links from whatever headers a naive handler trusts.
func reflecting() *origin {
	o := &origin{}
	o.fn = func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		host := r.Host
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
			host = fh
		}
		scheme := "http"
		if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
			scheme = p
		}
		path := r.URL.Path
		if ou := r.Header.Get("X-Original-URL"); ou != "" {
			path = ou
		}
		fmt.Fprintf(w, `<script src="%s://%s/app.js"></script> page %s`, scheme, host, path)
	}
	return o
}

func TestUnkeyedHeadersCannotPoisonTheCache(t *testing.T) {
	for _, attack := range [][2]string{
		{"X-Forwarded-Host", "evil.example"},
		{"X-Forwarded-Proto", "javascript"},
		{"X-Original-URL", "/admin"},
		{"Forwarded", "host=evil.example"},
	} {
		t.Run(attack[0], func(t *testing.T) {
			h := router(newCache(t), "/p", reflecting())
			do(h, "GET", "http://shop.example/p", attack[0], attack[1]) // the attacker goes first
			_, body := do(h, "GET", "http://shop.example/p")
			if strings.Contains(body, "evil") || strings.Contains(body, "javascript") || strings.Contains(body, "/admin") {
				t.Fatalf("a victim got the attacker's page: %q", body)
			}
			if body != `<script src="http://shop.example/app.js"></script> page /p` {
				t.Fatalf("victim's body %q", body)
			}
		})
	}
}

func TestKeyHeadersKeepAndKeyATrustedHeader(t *testing.T) {
	o := reflecting()
	h := router(newCache(t), "/p", o, middleware.KeyHeaders("X-Forwarded-Host"))
	_, body := do(h, "GET", "http://shop.example/p", "X-Forwarded-Host", "www.shop.example")
	if !strings.Contains(body, "//www.shop.example/") {
		t.Fatalf("handler did not see the keyed header: %q", body)
	}
	if _, body := do(h, "GET", "http://shop.example/p"); strings.Contains(body, "www.") {
		t.Fatalf("a request without the header got the response keyed by it: %q", body)
	}
	if n := o.calls.Load(); n != 2 {
		t.Fatalf("handler ran %d times; want 2 (one per header value)", n)
	}
}

func TestAttackerCookiesAndHostsStayApart(t *testing.T) {
	o := reflecting()
	h := router(newCache(t), "/p", o)
	do(h, "GET", "http://evil.example/p")                                   // another Host is another entry
	do(h, "GET", "http://shop.example/p", "Cookie", "admin=1")              // a cookie bypasses
	do(h, "GET", "http://shop.example/p", "X-HTTP-Method-Override", "POST") // stripped
	_, body := do(h, "GET", "http://shop.example/p")
	if body != `<script src="http://shop.example/app.js"></script> page /p` {
		t.Fatalf("victim's body %q", body)
	}
}

package middleware_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

const routePolicy = `
local function language(accept)
  return string.lower(string.match(accept or "", "^%s*([%a-]+)") or "")
end
return {
  ["/products/{id}"] = {
    headers = { "Accept-Language" },
    bypass = function(call) return call.args[1].query.nocache ~= nil end,
    key = function(call)
      local r = call.args[1]
      return r.path .. "|" .. language(r.header["accept-language"])
    end,
    ttl = function(call, resp)
      if resp.status == 404 then return "5s" end
      return "40s"
    end,
  },
  ["/static/{file}"] = { ttl = "20s" },
}`

func TestLuaPolicyDecidesKeyTTLAndBypassPerRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pol, err := luapolicy.LoadString("routes.lua", routePolicy)
		if err != nil {
			t.Fatal(err)
		}
		defer pol.Close()
		c := cached.New(cached.WithPolicy(pol))
		defer c.Close()
		o := &origin{}
		o.fn = func(w http.ResponseWriter, r *http.Request) {
			if chi.URLParam(r, "id") == "missing" {
				w.WriteHeader(http.StatusNotFound)
			}
			fmt.Fprintf(w, "%s call %d", r.URL.Path, o.calls.Load())
		}
		r := chi.NewRouter()
		r.Use(middleware.Cache(c))
		r.Get("/products/{id}", o.ServeHTTP)
		r.Get("/static/{file}", o.ServeHTTP)
		r.Get("/other", o.ServeHTTP)

		// key: the policy ignores utm_source and keys by the first language.
		do(r, "GET", "/products/7?utm_source=mail", "Accept-Language", "fr-CH,fr;q=0.9")
		if _, body := do(r, "GET", "/products/7", "Accept-Language", "fr-ch"); body != "/products/7 call 1" {
			t.Fatalf("same policy key: %q; want the stored response", body)
		}
		if _, body := do(r, "GET", "/products/7", "Accept-Language", "de"); body != "/products/7 call 2" {
			t.Fatalf("another language: %q; want a new response", body)
		}
		// bypass.
		if w, body := do(r, "GET", "/products/7?nocache=1", "Accept-Language", "fr"); body != "/products/7 call 3" || w.Header().Get("Cache-Status") != "cached; fwd=bypass" {
			t.Fatalf("?nocache: %q %q; want the handler, bypassed", body, w.Header().Get("Cache-Status"))
		}
		// ttl: decided per response (a 404 for 5s, others 40s), and a static TTL per route.
		do(r, "GET", "/products/missing")
		do(r, "GET", "/static/a.css")
		time.Sleep(10 * time.Second)
		if w, _ := do(r, "GET", "/products/missing"); !strings.Contains(w.Header().Get("Cache-Status"), "fwd=uri-miss") {
			t.Fatalf("404 after 10s: %q; want expired (policy TTL 5s)", w.Header().Get("Cache-Status"))
		}
		for _, p := range []string{"/products/7", "/static/a.css"} {
			if w, _ := do(r, "GET", p, "Accept-Language", "fr-ch"); !strings.Contains(w.Header().Get("Cache-Status"), "hit") {
				t.Fatalf("%s after 10s: %q; want a hit", p, w.Header().Get("Cache-Status"))
			}
		}
		time.Sleep(15 * time.Second)
		if w, _ := do(r, "GET", "/static/a.css"); !strings.Contains(w.Header().Get("Cache-Status"), "fwd=uri-miss") {
			t.Fatalf("/static after 25s: %q; want expired (policy TTL 20s)", w.Header().Get("Cache-Status"))
		}
		// A route the policy says nothing about keeps the no-heuristic default.
		do(r, "GET", "/other")
		if w, _ := do(r, "GET", "/other"); w.Header().Get("Cache-Status") != "cached; fwd=uri-miss" {
			t.Fatalf("/other: %q; want not stored", w.Header().Get("Cache-Status"))
		}
	})
}

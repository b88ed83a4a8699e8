package middleware_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

func Example() {
	c := cached.New()
	defer c.Close()

	r := chi.NewRouter()
	r.Use(middleware.Cache(c)) // stores what handlers mark cacheable
	r.Get("/products/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		w.Header().Set("Cache-Tag", "product-"+chi.URLParam(r, "id"))
		fmt.Fprintf(w, "product %s", chi.URLParam(r, "id"))
	})
	r.With(middleware.Cache(c, middleware.TTL(time.Minute))). // a TTL for a handler that says nothing
									Get("/menu", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "menu") })

	get := func(path string) {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		fmt.Println(path, w.Code, w.Body.String(), "|", w.Header().Get("Cache-Status"))
	}
	get("/products/1")
	get("/products/1")
	get("/menu")
	get("/menu")
	middleware.Purge(context.Background(), c, middleware.Target{Tags: []string{"product-1"}, Hard: true})
	get("/products/1")
	// Output:
	// /products/1 200 product 1 | cached; fwd=uri-miss; stored
	// /products/1 200 product 1 | cached; hit; ttl=59
	// /menu 200 menu | cached; fwd=uri-miss; stored
	// /menu 200 menu | cached; hit; ttl=59
	// /products/1 200 product 1 | cached; fwd=uri-miss; stored
}

func ExampleAdminHandler() {
	c := cached.New()
	defer c.Close()
	r := chi.NewRouter()
	r.Method("POST", "/admin/purge", middleware.AdminHandler(c, func(r *http.Request) bool {
		return r.Header.Get("Authorization") == "Bearer ops-token" // use a real secret
	}))

	req := httptest.NewRequest("POST", "/admin/purge?tag=product-1", nil)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println("without the token:", w.Code)

	req.Header.Set("Authorization", "Bearer ops-token")
	w = httptest.NewRecorder()
	r.ServeHTTP(w, req)
	fmt.Println("with it:", w.Code)
	// Output:
	// without the token: 403
	// with it: 204
}

// Command httpcache serves a small chi site through package middleware, the HTTP response
// cache, and prints the curl commands that show what it does.
//
//	go run ./examples/httpcache                      # listens on 127.0.0.1:8080
//	go run ./examples/httpcache -addr :9000 -delay 2s
//	HTTPCACHE_TOKEN=s3cret go run ./examples/httpcache
//
// The routes:
//
//	GET  /articles/{id}  a slow origin (-delay, 1s) whose pages say how long they may be
//	                     cached: Cache-Control max-age=30, stale-while-revalidate=60, an
//	                     ETag and a Cache-Tag. The first request takes a second; the next
//	                     ones are answered from the cache at once, with Age and
//	                     Cache-Status, and a 304 to If-None-Match.
//	GET  /articles       the list, cached for what its own Cache-Control says.
//	POST /articles/{id}  updates an article (title=...): the middleware drops the cached
//	                     page of the URL a successful POST went to, and the handler purges
//	                     the list with middleware.Purge.
//	GET  /quote          a handler that says nothing about caching, cached for 10s by the
//	                     TTL option of its route.
//	GET  /me             a private page (Cache-Control: private): never stored.
//	GET  /events         server-sent events: the handler flushes, so the middleware streams
//	                     it to its client unbuffered and stores nothing.
//	POST /admin/purge    middleware.AdminHandler behind a bearer token (-token, or
//	                     $HTTPCACHE_TOKEN, else the local default "local-dev-token"):
//	                     tag=... and url=..., repeatable, and hard=true.
package main

import (
	"context"
	"crypto/subtle"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/middleware"
	"github.com/go-chi/chi/v5"
)

// defaultToken is the purge token when neither -token nor $HTTPCACHE_TOKEN gives one: good
// for trying the example on a laptop, not for a server others can reach.
const defaultToken = "local-dev-token"

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "the address to listen on")
	token := flag.String("token", envOr("HTTPCACHE_TOKEN", defaultToken), "the bearer token /admin/purge requires (default from $HTTPCACHE_TOKEN)")
	delay := flag.Duration("delay", time.Second, "how long the origin of /articles/{id} takes")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, *addr, config{token: *token, delay: *delay}); err != nil {
		fmt.Fprintln(os.Stderr, "httpcache:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// config tunes the server; zero values are the program's defaults.
type config struct {
	token string        // the bearer token /admin/purge requires; "" means defaultToken
	delay time.Duration // how long the origin of /articles/{id} takes; 0 means no delay
	tick  time.Duration // the interval between server-sent events; 0 means 1s
	// shutdown, closed when the server shuts down, ends the /events streams, which would
	// otherwise hold http.Server.Shutdown until its deadline; nil for never.
	shutdown <-chan struct{}
	// origin, if set, is called by the handler of /articles/{id} each time it runs, in
	// place of the delay: tests count and hold the origin with it.
	origin func(r *http.Request)
}

// run serves the site on addr until ctx ends, printing the tour to w.
func run(ctx context.Context, w io.Writer, addr string, cfg config) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	c := cached.New()
	defer c.Close() // after the server has stopped: deferred calls run last in, first out
	shutdown := make(chan struct{})
	cfg.shutdown = shutdown
	srv := &http.Server{Handler: newRouter(c, cfg), ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(func() { close(shutdown) })

	base := "http://" + ln.Addr().String()
	if host, port, err := net.SplitHostPort(ln.Addr().String()); err == nil && net.ParseIP(host).IsUnspecified() {
		base = "http://" + net.JoinHostPort("localhost", port)
	}
	fmt.Fprintf(w, "httpcache: listening on %s\n\n%s", base, tour(base, cfg))
	if tokenOf(cfg) == defaultToken {
		fmt.Fprintf(w, "\nThe purge token is the default %q: set -token or $HTTPCACHE_TOKEN before\nlistening anywhere but on loopback.\n", defaultToken)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx) // waits for the requests in flight
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close() // streams that outlived the grace period
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func tokenOf(cfg config) string {
	if cfg.token == "" {
		return defaultToken
	}
	return cfg.token
}

// tour is what the program prints at startup and serves at /: curl commands, each with
// what to look for in its answer.
func tour(base string, cfg config) string {
	delay := "at once"
	if cfg.delay > 0 {
		delay = "after " + cfg.delay.String()
	}
	auth := "Authorization: Bearer " + tokenOf(cfg)
	return strings.NewReplacer("$BASE", base, "$DELAY", delay, "$AUTH", auth).Replace(`Try, in another terminal:

  curl -si $BASE/articles/1
      answers $DELAY (the origin is slow) with Cache-Status: cached; fwd=uri-miss; stored
  curl -si $BASE/articles/1
      answers at once: Cache-Status: cached; hit; ttl=..., body unchanged (same render #)
  curl -si $BASE/articles/1
      a few seconds later: Age has grown and ttl has shrunk by as much
  curl -si -H 'If-None-Match: "article-1.v1"' $BASE/articles/1
      304 Not Modified, from the stored ETag

  curl -si -X POST -H '$AUTH' '$BASE/admin/purge?tag=article-1'
      204: every page tagged article-1 is marked stale (without the token: 403)
  curl -si $BASE/articles/1
      the old page at once (Cache-Status: cached; hit; ttl=0; detail=purged), while one
      background request re-renders it
  curl -si $BASE/articles/1
      the new render (a higher render #, Age 0), a hit again

  curl -si -X POST -d 'title=Hello again' $BASE/articles/1
      updates the article; the middleware drops /articles/1, the handler purges /articles
  curl -si $BASE/articles/1
      a miss ($DELAY) with the new title and ETag "article-1.v2"

  curl -si $BASE/quote
      the handler says nothing about caching; the route's TTL option caches it for 10s
  curl -si $BASE/me
      Cache-Control: private, so never stored: Cache-Status: cached; fwd=uri-miss every time
  curl -sN $BASE/events
      server-sent events, streamed as they are written, not stored (Ctrl-C to stop)
`)
}

// article is a row of the site's database.
type article struct {
	title, body string
	version     int
}

// app is the site: its database and its handlers. The handlers know nothing of the
// cache except the headers they set and the purge after a write.
type app struct {
	c       *cached.Cache
	cfg     config
	renders atomic.Int64 // runs of the /articles/{id} origin, shown on each page

	mu       sync.Mutex // protects articles
	articles map[int]*article
}

// newRouter builds the site's handler: the routes behind the cache, and the purge
// endpoint beside them.
func newRouter(c *cached.Cache, cfg config) http.Handler {
	if cfg.tick <= 0 {
		cfg.tick = time.Second
	}
	a := &app{c: c, cfg: cfg, articles: map[int]*article{
		1: {"Caching at the edge", "Responses that say how long they are fresh are stored.", 1},
		2: {"Stampedes", "A hundred requests for a cold page run its handler once.", 1},
		3: {"Purging by tag", "One purge reaches every page that named the tag.", 1},
	}}
	r := chi.NewRouter()

	// Routes whose responses say themselves whether and for how long they may be stored.
	r.Group(func(r chi.Router) {
		r.Use(middleware.Cache(c))
		r.Get("/articles", a.list)
		r.Get("/articles/{id}", a.show)
		r.Post("/articles/{id}", a.update)
		r.Get("/me", a.me)
		r.Get("/events", a.events)
	})
	// A handler that says nothing: its route's TTL decides.
	r.With(middleware.Cache(c, middleware.TTL(10*time.Second))).Get("/quote", a.quote)

	// The purge endpoint is not behind the cache, and refuses requests without the token.
	want := []byte("Bearer " + tokenOf(cfg))
	r.Handle("/admin/purge", middleware.AdminHandler(c, func(r *http.Request) bool {
		return subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) == 1
	}))
	return r
}

// etag is the entity tag of an article version: the same for every render of it, so
// that a client's If-None-Match still matches after the page is re-rendered.
func etag(id, version int) string { return fmt.Sprintf(`"article-%d.v%d"`, id, version) }

// show renders one article, slowly.
func (a *app) show(w http.ResponseWriter, r *http.Request) {
	if a.cfg.origin != nil {
		a.cfg.origin(r)
	} else if a.cfg.delay > 0 {
		select {
		case <-time.After(a.cfg.delay): // the slow query and template
		case <-r.Context().Done():
			return
		}
	}
	n := a.renders.Add(1)
	id, _ := strconv.Atoi(chi.URLParam(r, "id"))
	a.mu.Lock()
	art, ok := a.articles[id]
	var cur article
	if ok {
		cur = *art
	}
	a.mu.Unlock()
	if !ok {
		w.Header().Set("Cache-Control", "max-age=10") // a 404 may be cached too
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "max-age=30, stale-while-revalidate=60")
	h.Set("ETag", etag(id, cur.version))
	h.Set("Cache-Tag", fmt.Sprintf("articles, article-%d", id))
	fmt.Fprintf(w, "%s (article %d, version %d)\n\n%s\n\nrendered at %s, render #%d\n",
		cur.title, id, cur.version, cur.body, time.Now().Format("15:04:05.000"), n)
}

// list renders the list of articles.
func (a *app) list(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	ids := make([]int, 0, len(a.articles))
	for id := range a.articles {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, "/articles/%d  %s\n", id, a.articles[id].title)
	}
	a.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "max-age=30, stale-while-revalidate=60")
	h.Set("Cache-Tag", "articles")
	fmt.Fprintf(w, "%slisted at %s\n", b.String(), time.Now().Format("15:04:05.000"))
}

// update changes an article's title. The middleware drops the cached page of the URL
// (a successful POST invalidates it); the list, another URL, is purged here.
func (a *app) update(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.Atoi(chi.URLParam(r, "id"))
	title := strings.TrimSpace(r.FormValue("title"))
	if title == "" {
		http.Error(w, "give title=...", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	art, ok := a.articles[id]
	if ok {
		art.title = title
		art.version++
	}
	var version int
	if ok {
		version = art.version
	}
	a.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Soft: the list is served stale while one request re-renders it.
	if err := middleware.Purge(r.Context(), a.c, middleware.Target{URLs: []string{"/articles"}}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "article %d is now version %d\n", id, version)
}

// quote says nothing about caching: its route's TTL option decides.
func (a *app) quote(w http.ResponseWriter, r *http.Request) {
	quotes := []string{
		"There are only two hard things in computer science: cache invalidation and naming things.",
		"The fastest request is the one you never make.",
		"A cache with a bad policy is a bug with good latency.",
	}
	now := time.Now()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "%s\n\nchosen at %s\n", quotes[now.Second()%len(quotes)], now.Format("15:04:05.000"))
}

// me is a page for one user: private, so the middleware never stores it.
func (a *app) me(w http.ResponseWriter, r *http.Request) {
	name := "anonymous"
	if ck, err := r.Cookie("user"); err == nil && ck.Value != "" {
		name = ck.Value
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=60")
	fmt.Fprintf(w, "hello, %s (at %s)\n", name, time.Now().Format("15:04:05.000"))
}

// events streams a tick every cfg.tick until the client leaves or the server shuts
// down. It flushes each one, so the middleware hands the response to its client as it
// is written and stores nothing.
func (a *app) events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	rc := http.NewResponseController(w)
	t := time.NewTicker(a.cfg.tick)
	defer t.Stop()
	for i := 1; ; i++ {
		fmt.Fprintf(w, "event: tick\ndata: %d %s\n\n", i, time.Now().Format("15:04:05.000"))
		if err := rc.Flush(); err != nil {
			return // the client left
		}
		select {
		case <-r.Context().Done():
			return
		case <-a.cfg.shutdown:
			return
		case <-t.C:
		}
	}
}

// Command luapolicy caches a slow repository function under a Lua policy that it reloads
// while it runs: edit the policy file and watch the load count change.
//
//	go run ./examples/luapolicy                 # writes policy.lua here if there is none
//	go run ./examples/luapolicy -policy p.lua -duration 30s
//
// Every 500ms it prints the live policy version, its checksum and what the last interval's
// calls did:
//
//	v1 9c1e04b2  price: 19 calls,  1 loads, 18 hits,  0 bypassed   (total 57 calls, 5 loads)
//
// Save the file with ttl = "200ms", bypass = true or the key function uncommented and the
// next lines show it; save a mistake and it says why the version was rejected and keeps
// the live one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// defaultPolicy is written to the policy path when there is no file there.
const defaultPolicy = `-- The caching rules of examples/luapolicy. Edit and save while it runs:
-- the change is live within 200ms. Try one at a time:
--   ttl = "200ms"        entries expire five times a second: more loads
--   bypass = true        every call goes to the repository: loads = calls
--   the key function     "SKU-1" and "sku-1" share one entry in the store: half the loads
--   ttl = "soon"         rejected: the program says why and stays on the live version
return {
  price = {
    ttl = "2s",
    jitter = "10%",
    -- key = function(call) return string.lower(call.args[1]) end,
  },
}
`

func main() {
	path := flag.String("policy", "policy.lua", "the policy file; a default one is written there if it does not exist")
	duration := flag.Duration("duration", 0, "how long to run; 0 means until interrupted")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	if err := run(ctx, os.Stdout, *path, options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// options tune run; zero values are the program's defaults.
type options struct {
	every    time.Duration          // how often a line is printed; 0 means 500ms
	poll     time.Duration          // how often the policy file is read; 0 means 200ms
	latency  time.Duration          // how long the repository takes; 0 means 50ms
	onReload func(luapolicy.Reload) // told of every reload attempt after it is printed, or nil
}

// run is the program: it serves calls under the policy at path until ctx ends, printing
// to w.
func run(ctx context.Context, w io.Writer, path string, opt options) error {
	opt.every = orDefault(opt.every, 500*time.Millisecond)
	opt.poll = orDefault(opt.poll, 200*time.Millisecond)
	opt.latency = orDefault(opt.latency, 50*time.Millisecond)
	out := &lockedWriter{w: w}

	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(path, []byte(defaultPolicy), 0o644); err != nil {
			return err
		}
		out.printf("%s: wrote the default policy; edit it while this runs\n", path)
	}
	pol, err := luapolicy.Load(path, luapolicy.PollInterval(opt.poll), luapolicy.OnReload(func(r luapolicy.Reload) {
		if r.Err != nil {
			msg := strings.TrimPrefix(r.Err.Error(), luapolicy.ErrRejected.Error()+": ")
			out.printf("policy rejected: %s; still on v%d\n", msg, r.Version)
		} else {
			out.printf("policy v%d live (%s)\n", r.Version, r.Checksum[:8])
		}
		if opt.onReload != nil {
			opt.onReload(r)
		}
	}))
	if err != nil {
		return err
	}
	defer pol.Close()

	c := cached.New(cached.WithPolicy(pol), cached.WithStore(newMemStore()))
	defer c.Close()
	repo := &Repo{latency: opt.latency}
	getPrice := cached.Wrap(c, "price", repo.GetPrice)

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait() // after cancel: deferred calls run last in, first out
	defer cancel()
	wg.Go(func() { pol.Watch(ctx) })

	// The traffic: one caller asking for four spellings of two SKUs, twenty times per line.
	var calls atomic.Int64
	wg.Go(func() {
		skus := []string{"SKU-1", "sku-1", "SKU-2", "sku-2"}
		t := time.NewTicker(opt.every / 20)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := getPrice(ctx, skus[i%len(skus)]); err != nil && ctx.Err() == nil {
				out.printf("price: %v\n", err)
			}
			calls.Add(1)
		}
	})

	out.printf("watching %s every %v; a line every %v\n", path, opt.poll, opt.every)
	var last counts
	t := time.NewTicker(opt.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		s := c.Stats().Funcs["price"]
		now := counts{calls.Load(), repo.loads.Load(), s.Hits, s.Bypasses}
		d := now.minus(last)
		last = now
		ps := pol.Stats()
		out.printf("v%d %s  price: %2d calls, %2d loads, %2d hits, %2d bypassed   (total %d calls, %d loads)\n",
			ps.Version, ps.Checksum[:8], d.calls, d.loads, d.hits, d.bypassed, now.calls, now.loads)
	}
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// counts are the counters one line reports.
type counts struct {
	calls, loads   int64
	hits, bypassed uint64
}

func (c counts) minus(o counts) counts {
	return counts{c.calls - o.calls, c.loads - o.loads, c.hits - o.hits, c.bypassed - o.bypassed}
}

// Price is what the repository returns.
type Price struct {
	SKU      string `json:"sku"`
	Cents    int64  `json:"cents"`
	Currency string `json:"currency"`
}

// Repo is a repository as slow as a database. It knows nothing of caching.
type Repo struct {
	latency time.Duration
	loads   atomic.Int64
}

// GetPrice returns the price of sku.
func (r *Repo) GetPrice(ctx context.Context, sku string) (Price, error) {
	r.loads.Add(1)
	select {
	case <-time.After(r.latency): // the query
	case <-ctx.Done():
		return Price{}, ctx.Err()
	}
	sku = strings.ToUpper(sku)
	return Price{SKU: sku, Cents: int64(100 * len(sku)), Currency: "EUR"}, nil
}

// memStore is a cached.Store in a map, standing in for the memcached a fleet would share:
// a policy's key function names entries in the Store, so it needs one to act on.
type memStore struct {
	mu sync.Mutex // protects m
	m  map[string]memItem
}

type memItem struct {
	it      cached.Item
	expires time.Time
}

func newMemStore() *memStore { return &memStore{m: map[string]memItem{}} }

func (s *memStore) Get(_ context.Context, key string) (cached.Item, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok || !time.Now().Before(e.expires) {
		delete(s.m, key)
		return cached.Item{}, false, nil
	}
	return e.it, true, nil
}

func (s *memStore) Set(_ context.Context, key string, it cached.Item, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = memItem{it, time.Now().Add(ttl)}
	return nil
}

func (s *memStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// lockedWriter serialises the lines of the reporting loop and of reloads, which Watch's
// goroutine prints.
type lockedWriter struct {
	mu sync.Mutex // protects w
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}

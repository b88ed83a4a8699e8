// Command quickstart wraps a slow repository function with cached.Wrap and calls it from
// 1,000 goroutines at once, with and without the cache, printing how often the
// repository was called and how long calls took.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// User is what the repository returns.
type User struct {
	ID    int64
	Name  string
	Email string
}

// Repo is a repository whose reads take as long as a database query. It knows nothing of
// caching.
type Repo struct {
	calls atomic.Int64
}

// GetUser returns the user with id, or cached.ErrNotFound.
func (r *Repo) GetUser(ctx context.Context, id int64) (User, error) {
	r.calls.Add(1)
	select {
	case <-time.After(20 * time.Millisecond): // the query
	case <-ctx.Done():
		return User{}, ctx.Err()
	}
	if id <= 0 {
		return User{}, cached.ErrNotFound
	}
	return User{ID: id, Name: fmt.Sprintf("user %d", id), Email: fmt.Sprintf("u%d@example.com", id)}, nil
}

const callers = 1000

// storm calls get for id from callers goroutines released together and returns the
// latency of each call.
func storm(get func(context.Context, int64) (User, error), id int64) []time.Duration {
	var wg sync.WaitGroup
	start := make(chan struct{})
	lat := make([]time.Duration, callers)
	for i := range callers {
		wg.Go(func() {
			<-start
			t := time.Now()
			if _, err := get(context.Background(), id); err != nil && !errors.Is(err, cached.ErrNotFound) {
				log.Fatal(err)
			}
			lat[i] = time.Since(t)
		})
	}
	close(start)
	wg.Wait()
	return lat
}

func median(d []time.Duration) time.Duration {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[len(d)/2]
}

func main() { run(os.Stdout) }

// run is the demo, printing to w.
func run(w io.Writer) {
	repo := &Repo{}

	lat := storm(repo.GetUser, 42)
	fmt.Fprintf(w, "without cache: %4d callers -> %4d repository calls, median latency %v\n",
		callers, repo.calls.Swap(0), median(lat).Round(time.Millisecond))

	c := cached.New() // in-process tier, coalesced loads, 5m TTL with 10% jitter
	defer c.Close()
	getUser := cached.Wrap(c, "user", repo.GetUser) // same signature as repo.GetUser

	lat = storm(getUser, 42)
	fmt.Fprintf(w, "with cache:    %4d callers -> %4d repository call,  median latency %v (cold key: one shared load)\n",
		callers, repo.calls.Swap(0), median(lat).Round(time.Millisecond))

	lat = storm(getUser, 42)
	fmt.Fprintf(w, "with cache:    %4d callers -> %4d repository calls, median latency %v (hits)\n",
		callers, repo.calls.Swap(0), median(lat))

	ctx := context.Background()
	hits := make([]time.Duration, 10_000)
	for i := range hits {
		t := time.Now()
		getUser(ctx, 42)
		hits[i] = time.Since(t)
	}
	fmt.Fprintf(w, "one caller:    median hit %v\n", median(hits))

	getUser(ctx, -1) // does not exist: the not-found result is cached too
	getUser(ctx, -1)
	fmt.Fprintf(w, "missing id:    2 lookups -> %d repository call (not-found cached for %v)\n",
		repo.calls.Swap(0), cached.DefaultNegativeTTL)

	s := c.Stats().Funcs["user"]
	fmt.Fprintf(w, "stats: hits=%d misses=%d coalesced=%d loads=%d negative_hits=%d\n",
		s.Hits, s.Misses, s.Coalesced, s.Loads, s.NegativeHits)
}

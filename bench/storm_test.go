package bench

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
)

// stormers is the number of goroutines that miss on the same key at once in BenchmarkStorm.
const stormers = 1000

// BenchmarkStorm measures a miss storm: in each iteration, stormers goroutines, released
// together, get the same cold key. The loader does not return until all of them have
// called get, so that every one of them arrives while the key is still missing (or being
// loaded): a contender that coalesces loads reports 1 loads/op. The allocations are those
// of one storm, harness included (see storm).
//
// The floors have no loader and take no part.
func BenchmarkStorm(b *testing.B) {
	b.Run("harness", func(b *testing.B) {
		// harness is the cost of the storm without a cache: get returns at once and never
		// loads. Subtract it from the rows below.
		runStorm(b, func(_ context.Context, id int64) (*User, error) { return want(id), nil }, nil)
	})
	for _, c := range contenders() {
		if !c.coalesces {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			var loads atomic.Int64
			var cur atomic.Pointer[round]
			get := open(b, c, func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				// The loader may run on a goroutine of the contender's, so it finds the
				// current round through an atomic rather than a captured variable.
				<-cur.Load().release
				return want(id), nil
			})
			runStorm(b, get, &cur)
			b.ReportMetric(float64(loads.Load())/float64(b.N), "loads/op")
		})
	}
}

// A round is one storm: one cold key, read by every stormer.
type round struct {
	key      int64
	start    chan struct{} // closed once every stormer waits on it
	release  chan struct{} // closed by the last stormer to arrive; the loader waits on it
	arrivals atomic.Int32
	ready    sync.WaitGroup // stormers waiting on start
	done     sync.WaitGroup // stormers that have not returned from get

	mu  sync.Mutex // protects err
	err error      // the first wrong result of get
}

// fail records err unless an earlier stormer has failed.
func (r *round) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// runStorm runs b.N storms against get, publishing each round in cur if cur is not nil.
//
// The stormers are started once, outside the timed loop, and each round is handed to them
// on their own channels. Starting stormers new goroutines per round would add a closure
// allocation per goroutine, and the time to create them, to every storm, and drown the
// contender's cost; parked goroutines stand for the requests a server already has in flight. What a round costs the harness
// itself (a round and its two channels, 3 allocations) is in BenchmarkStorm/harness.
func runStorm(b *testing.B, get getFunc, cur *atomic.Pointer[round]) {
	b.Helper()
	ctx := context.Background()
	var (
		workers = make([]chan *round, stormers)
		exited  sync.WaitGroup
	)
	for i := range workers {
		work := make(chan *round)
		workers[i] = work
		exited.Go(func() {
			for r := range work {
				r.ready.Done()
				<-r.start
				if r.arrivals.Add(1) == stormers {
					close(r.release)
				}
				u, err := get(ctx, r.key)
				if err := check(r.key, u, err); err != nil {
					r.fail(err)
				}
				r.done.Done()
			}
		})
	}
	defer func() {
		for _, work := range workers {
			close(work)
		}
		exited.Wait()
	}()

	b.ReportAllocs()
	// Cold keys lie above every hot key, and each round takes a new one.
	key := int64(1) << 40
	for b.Loop() {
		key++
		r := &round{key: key, start: make(chan struct{}), release: make(chan struct{})}
		if cur != nil {
			cur.Store(r)
		}
		r.ready.Add(stormers)
		r.done.Add(stormers)
		for _, work := range workers {
			work <- r
		}
		r.ready.Wait()
		close(r.start)
		r.done.Wait()
		if r.err != nil { // done.Wait orders every fail before this read.
			b.Fatalf("get(%d): %v", key, r.err)
		}
	}
}

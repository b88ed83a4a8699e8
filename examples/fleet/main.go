// Command fleet shows cached across a fleet: several instances of one service sharing one
// memcached and one etcd. The instances are simulated in one process, but each has what
// a separate process would have: its own Cache (and in-process tier), its own memcached
// Store, and its own etcd client with its own lock.NewEtcd Locker and bus.NewEtcd Bus.
//
// Start memcached and etcd, then:
//
//	go run ./examples/fleet -memcached 127.0.0.1:11211 -etcd 127.0.0.1:2379
//
// It shows, in plain words: (1) a stampede, every instance's 50 goroutines asking for one
// cold key at once, which queries the (simulated, 50ms) database once in all; (2)
// cross-instance invalidation, instance 0 updating the database and calling Invalidate,
// after which no instance serves the old value from its in-process tier; (3) the lock and
// bus counters, where a degraded etcd shows. Each run uses a fresh namespace, so keys left
// in memcached by earlier runs do not count.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/lock"
	"github.com/cachedgo/cached/store/memcached"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

type config struct {
	memcached []string // "host:port" of each memcached server
	etcd      []string // etcd client endpoints
	instances int      // how many instances of the service to simulate
}

const callers = 50 // goroutines per instance in the stampede

func main() {
	mc := flag.String("memcached", "127.0.0.1:11211", "memcached servers, host:port, comma-separated")
	etcd := flag.String("etcd", "127.0.0.1:2379", "etcd endpoints, comma-separated")
	n := flag.Int("instances", 3, "instances of the service to simulate")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Stdout, config{strings.Split(*mc, ","), strings.Split(*etcd, ","), *n})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		os.Exit(1)
	}
}

// db is the database all instances share: one row, whose reads take as long as a query.
type db struct {
	queries atomic.Int64
	value   atomic.Value // string
}

func (d *db) get(context.Context, string) (string, error) {
	d.queries.Add(1)
	time.Sleep(50 * time.Millisecond) // the query
	return d.value.Load().(string), nil
}

// instance is what one process of the service holds.
type instance struct {
	store   *memcached.Store
	lock    *lock.Etcd
	bus     *bus.Etcd
	row     *cached.Func[string, string]
	closers []func() error // in the order built
}

func newInstance(ctx context.Context, cfg config, ns string, d *db) (*instance, error) {
	endpoints := strings.Join(cfg.etcd, ",")
	cli, err := clientv3.New(clientv3.Config{Endpoints: cfg.etcd, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, fmt.Errorf("etcd client for %s: %w", endpoints, err)
	}
	in := &instance{store: memcached.New(cfg.memcached)}
	in.closers = []func() error{cli.Close, in.store.Close}
	probe, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err = cli.Get(probe, "fleet-health-check"); err != nil { // the client dials lazily
		err = fmt.Errorf("cannot reach etcd at %s; start it or pass -etcd: %w", endpoints, err)
	} else if in.lock, err = lock.NewEtcd(cli); err == nil {
		in.closers = append(in.closers, in.lock.Close)
		if in.bus, err = bus.NewEtcd(cli); err == nil {
			in.closers = append(in.closers, in.bus.Close)
		}
	}
	if err != nil {
		in.close()
		return nil, err
	}
	c := cached.New(cached.WithNamespace(ns), cached.WithStore(in.store), cached.WithLocker(in.lock), cached.WithBus(in.bus))
	in.closers = append(in.closers, c.Close)
	in.row = cached.NewFunc(c, "row", d.get)
	return in, nil
}

// close shuts the instance down in the reverse order of building: the Cache (which uses
// the rest), the bus, the locker, the store, and last the etcd client.
func (in *instance) close() error {
	var errs []error
	for i := len(in.closers) - 1; i >= 0; i-- {
		errs = append(errs, in.closers[i]())
	}
	return errors.Join(errs...)
}

// run is the demo, printing to w.
func run(ctx context.Context, w io.Writer, cfg config) (err error) {
	if cfg.instances < 1 {
		return fmt.Errorf("-instances must be at least 1, not %d", cfg.instances)
	}
	for _, addr := range cfg.memcached {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			return fmt.Errorf("cannot reach memcached at %s; start it or pass -memcached: %w", addr, err)
		}
		c.Close()
	}
	d := &db{}
	d.value.Store("v1")
	ns := fmt.Sprintf("fleet-%x", time.Now().UnixNano())
	fleet := make([]*instance, 0, cfg.instances)
	defer func() {
		for _, in := range fleet {
			err = errors.Join(err, in.close())
		}
	}()
	for range cfg.instances {
		in, err := newInstance(ctx, cfg, ns, d)
		if err != nil {
			return err
		}
		fleet = append(fleet, in)
	}
	fmt.Fprintf(w, "fleet: %d instances, each with its own in-process tier, memcached client, etcd client, lock and bus,\n"+
		"       sharing memcached %s and etcd %s\n\n", len(fleet), strings.Join(cfg.memcached, ","), strings.Join(cfg.etcd, ","))

	// 1. Stampede.
	var wg sync.WaitGroup
	var wrong atomic.Int64
	start := make(chan struct{})
	for _, in := range fleet {
		for range callers {
			wg.Go(func() {
				<-start
				if v, err := in.row.Get(ctx, "42"); err != nil || v != "v1" {
					wrong.Add(1)
				}
			})
		}
	}
	t := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t)
	if n := wrong.Load(); n > 0 {
		return fmt.Errorf("stampede: %d callers did not get \"v1\"", n)
	}
	var locks, leaseWaits uint64
	for _, in := range fleet {
		locks, leaseWaits = locks+in.lock.Stats().Acquired, leaseWaits+in.store.Stats().LeaseWaited
	}
	fmt.Fprintf(w, "1. stampede: %d callers (%d instances x %d goroutines) asked for cold row 42 at once\n"+
		"   the database was queried %d time(s) in total; every caller had \"v1\" within %v\n"+
		"   each instance made one load of its %d callers; %d instance(s) took the etcd lock and loaded;\n"+
		"   %d waited on that loader's memcached lease and read its value (had the load outlasted the\n"+
		"   lease wait, they would have queued on the etcd lock, then read the value: the double check)\n\n",
		len(fleet)*callers, len(fleet), callers, d.queries.Swap(0), elapsed.Round(time.Millisecond),
		callers, locks, leaseWaits)

	// 2. Cross-instance invalidation: the others are watched from the start of Invalidate,
	// the writer (whose own reads follow its write) once it has returned.
	d.value.Store("v2")
	lines, errs := make([]string, len(fleet)), make([]error, len(fleet)+1)
	t0 := time.Now()
	for i, in := range fleet[1:] {
		wg.Go(func() { lines[i+1], errs[i+1] = waitFor(ctx, i+1, in, t0) })
	}
	errs[len(fleet)] = fleet[0].row.Invalidate(ctx, "42")
	lines[0], errs[0] = waitFor(ctx, 0, fleet[0], t0)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	fmt.Fprintf(w, "2. invalidation: instance 0 wrote \"v2\" to the database and called Invalidate\n%s"+
		"   (the database was queried %d time(s) to reload it)\n\n", strings.Join(lines, ""), d.queries.Swap(0))

	// 3. Degradation.
	fmt.Fprintf(w, "3. degradation: a failing etcd shows in these counters\n")
	for i, in := range fleet {
		l, b := in.lock.Stats(), in.bus.Stats()
		fmt.Fprintf(w, "   instance %d: lock acquired=%d contended=%d timeouts=%d errors=%d rejected=%d;"+
			" bus connected=%t published=%d delivered=%d resyncs=%d lag p50=%v\n",
			i, l.Acquired, l.Contended, l.Timeouts, l.Errors, l.Rejected,
			b.Connected, b.Published, b.Delivered, b.Resyncs, b.LagP50.Round(10*time.Microsecond))
	}
	fmt.Fprintf(w, "   With etcd down, locks fail (errors, then rejected by the breaker at once) and misses\n"+
		"   load without the lock (more queries, no outage); the bus shows connected=false and, back,\n"+
		"   resyncs: every instance drops its in-process tier, so no invalidation is lost silently.\n")
	return nil
}

// waitFor polls instance i's Get until it returns "v2" and says how long after t0 the
// first Get that did not answer "v1" from the in-process tier started, and returned.
func waitFor(ctx context.Context, i int, in *instance, t0 time.Time) (string, error) {
	for {
		start := time.Now()
		v, err := in.row.Get(ctx, "42")
		if err != nil {
			return "", fmt.Errorf("instance %d: %w", i, err)
		}
		if v == "v2" {
			return fmt.Sprintf("   instance %d stopped serving \"v1\" from its in-process tier after %v, served \"v2\" after %v\n",
				i, start.Sub(t0).Round(10*time.Microsecond), time.Since(t0).Round(10*time.Microsecond)), nil
		}
		if time.Since(t0) > 5*time.Second {
			return "", fmt.Errorf("instance %d still serves %q 5s after Invalidate", i, v)
		}
		time.Sleep(100 * time.Microsecond) // polling: the point is to watch the old value go
	}
}

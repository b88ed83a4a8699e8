package lock_test

// Cross-process tests of the etcd Locker with the engine, against a real etcd and a real
// memcached: the OS processes are this test binary run again as children (see TestLockChild),
// started with their role in the environment, released together through stdin, and
// reporting on stdout. They check what issue 4 says must hold across a fleet: one load
// per cold key, a dead holder's lock passing to the next waiter within the TTL, and a
// stalled holder's late write dropped by the store's fence check (fencing_test.go).

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/lock"
	"github.com/cachedgo/cached/store/memcached"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// What a child is given, besides its role (childEnv).
const (
	envEtcd      = "LOCK_ETCD"      // etcd endpoint
	envMemcached = "LOCK_MEMCACHED" // memcached address
	envNS        = "LOCK_NS"        // the cache's namespace: one per run
	envKey       = "LOCK_KEY"       // the cache key the child reads
	envPrefix    = "LOCK_PREFIX"    // the Locker's etcd prefix
	envTTL       = "LOCK_TTL"       // the Locker's TTL; empty: no Locker
	envCounter   = "LOCK_COUNTER"   // memcached key counting the loads of the fleet
)

// Child roles.
const (
	roleStorm = "storm" // 250 callers of one key, released by "go"; prints "result ..."
	roleHold  = "hold"  // one caller whose loader prints "loading" and returns its stdin's next line
)

// procDeadline bounds every wait on a child: a hang fails the test instead of blocking it.
const procDeadline = 60 * time.Second

// TestStormAcrossProcesses: four OS processes with 250 callers each miss one cold key at
// once. With the etcd Locker the fleet loads it exactly once; without, about once per
// process. The memcached store's leases are off, so the Locker alone stops the stampede.
func TestStormAcrossProcesses(t *testing.T) {
	etcd := etcdtest.Start(t)
	mc := memcachedtest.Start(t)

	on := storm(t, etcd.Endpoint, mc.Addr, true)
	t.Logf("4 processes × 250 callers, Locker on: %d loads, %d of 4 processes waited for the lock, took %v",
		on.loads, on.contended, on.took)
	if on.loads != 1 {
		t.Errorf("loads with the Locker = %d; want 1", on.loads)
	}
	if on.lockErrors != 0 {
		t.Errorf("lock errors with the Locker = %d; want 0 (a LockTimeout or etcd failure let a process load)", on.lockErrors)
	}
	if on.contended < 1 {
		t.Errorf("processes that waited for the lock = %d; want >= 1 (the storm did not race)", on.contended)
	}

	off := storm(t, etcd.Endpoint, mc.Addr, false)
	t.Logf("4 processes × 250 callers, Locker off: %d loads, took %v", off.loads, off.took)
	if off.loads < 2 {
		t.Errorf("loads without the Locker = %d; want about one per process, >= 2 (the storm did not race)", off.loads)
	}
}

// stormResult sums what the children of one storm reported.
type stormResult struct {
	loads      uint64 // the shared counter: loader runs in the whole fleet
	contended  uint64 // children whose lock was held by another when they asked
	lockErrors uint64
	took       time.Duration // from "go" to the last child's result
}

// storm runs four storm children on a fresh namespace, releases them together and returns
// their sums. It fails the test if a caller did not get the value or the children's own
// counts disagree with the shared counter.
func storm(t *testing.T, endpoint, addr string, locked bool) stormResult {
	t.Helper()
	ns := runID(fmt.Sprint("storm-", locked))
	counter := ns + ":loads"
	mc := memcache.New(addr)
	mc.Timeout = 2 * time.Second
	defer mc.Close()
	if err := mc.Set(&memcache.Item{Key: counter, Value: []byte("0")}); err != nil {
		t.Fatalf("resetting the load counter: %v", err)
	}
	env := []string{envEtcd + "=" + endpoint, envMemcached + "=" + addr, envNS + "=" + ns,
		envKey + "=report", envPrefix + "=/" + ns + "/", envCounter + "=" + counter}
	if locked {
		env = append(env, envTTL+"=10s")
	}
	var children []*proc
	for i := range 4 {
		children = append(children, spawn(t, fmt.Sprint(roleStorm, i), roleStorm, env...))
	}
	for _, c := range children { // each is ready once its callers wait for the start
		c.expect("ready")
	}
	start := time.Now()
	for _, c := range children {
		c.send("go")
	}
	var r stormResult
	var localLoads, ok uint64
	for _, c := range children {
		f := c.report("result")
		localLoads += f["loads"]
		ok += f["ok"]
		r.contended += f["contended"]
		r.lockErrors += f["lockErrors"]
	}
	r.took = time.Since(start)
	it, err := mc.Get(counter)
	if err != nil {
		t.Fatalf("reading the load counter: %v", err)
	}
	if r.loads, err = strconv.ParseUint(strings.TrimSpace(string(it.Value)), 10, 64); err != nil {
		t.Fatalf("load counter %q: %v", it.Value, err)
	}
	if ok != 4*250 {
		t.Errorf("callers that got the value = %d; want %d", ok, 4*250)
	}
	if localLoads != r.loads {
		t.Errorf("loads counted by the children = %d; the shared counter says %d", localLoads, r.loads)
	}
	return r
}

// TestKillHolderAcrossProcesses: a process that holds a key's lock and is loading is
// killed (SIGKILL: no Unlock, no lease revoke). The next waiter, in another process, gets
// the lock once the dead session's lease expires, within the TTL, and loads. LockTimeout
// is far longer than the TTL, so the lock, not the fallback, is what answers.
func TestKillHolderAcrossProcesses(t *testing.T) {
	etcd := etcdtest.Start(t)
	mc := memcachedtest.Start(t)
	cli := etcd.Client(t)
	const ttl = 2 * time.Second
	for _, queued := range []bool{true, false} {
		name := "waiter-after-kill"
		if queued {
			name = "waiter-queued-before-kill"
		}
		t.Run(name, func(t *testing.T) {
			ns := runID("kill")
			prefix := "/" + ns + "/"
			child := spawn(t, "holder", roleHold, envEtcd+"="+etcd.Endpoint, envMemcached+"="+mc.Addr,
				envNS+"="+ns, envKey+"=k", envPrefix+"="+prefix, envTTL+"="+ttl.String())
			child.expect("loading") // the child holds the lock

			p := newParent(t, cli, mc.Addr, ns, prefix, ttl, "parent")
			got := make(chan string, 1)
			get := func() {
				ctx, cancel := context.WithTimeout(context.Background(), procDeadline)
				defer cancel()
				v, err := p.get(ctx, "k")
				got <- fmt.Sprintf("%s, %v", v, err)
			}
			var wg sync.WaitGroup
			defer func() { // on failure too: the Get ends once the holder is gone
				child.cmd.Process.Kill()
				wg.Wait()
			}()
			if queued {
				wg.Go(get)
				waitKeys(t, cli, prefix, 2) // the parent's key is in the mutex's queue
			}
			if err := child.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed := time.Now()
			if !queued {
				wg.Go(get)
			}
			var answer string
			select {
			case answer = <-got:
			case <-time.After(procDeadline):
				t.Fatalf("the parent's Get did not return within %v of the kill", procDeadline)
			}
			took := time.Since(killed)
			t.Logf("kill → the next waiter's Get returned: %v (TTL %v)", took, ttl)
			if answer != "parent, <nil>" {
				t.Errorf("parent's Get = %s; want parent, <nil>", answer)
			}
			if n := p.loads.Load(); n != 1 {
				t.Errorf("parent's loads = %d; want 1", n)
			}
			if took > ttl+time.Second {
				t.Errorf("kill → load took %v; want <= TTL + 1s = %v", took, ttl+time.Second)
			}
			s := p.l.Stats()
			if s.Acquired != 1 || s.Contended != 1 {
				t.Errorf("parent's lock stats = %+v; want Acquired 1, Contended 1 (it waited for the dead holder)", s)
			}
			if n := p.c.Stats().Total().LockErrors; n != 0 {
				t.Errorf("parent's lock errors = %d; want 0 (the fallback answered)", n)
			}
		})
	}
}

// parent is this process's member of the fleet: a cached function over memcached and an
// etcd Locker, whose loader returns a fixed value.
type parent struct {
	c      *cached.Cache
	l      *lock.Etcd
	fences *fenceSpy
	get    func(context.Context, string) (string, error)
	loads  atomic.Int64
}

func newParent(t *testing.T, cli *clientv3.Client, addr, ns, prefix string, ttl time.Duration, value string) *parent {
	t.Helper()
	st := newStore(t, addr)
	l := newProcLocker(t, cli, ttl, prefix)
	p := &parent{l: l, fences: &fenceSpy{Locker: l}}
	// LockTimeout far past the TTL: the lock is what answers, never the fallback.
	p.c = cached.New(cached.WithStore(st), cached.WithLocker(p.fences), cached.WithNamespace(ns),
		cached.LockTimeout(30*time.Second))
	t.Cleanup(func() { p.c.Close() })
	p.get = cached.Wrap(p.c, "value", func(context.Context, string) (string, error) {
		p.loads.Add(1)
		return value, nil
	})
	return p
}

// fenceSpy records the fence of the last lock its Locker gave.
type fenceSpy struct {
	cached.Locker
	last atomic.Uint64
}

func (f *fenceSpy) Lock(ctx context.Context, key string) (cached.Unlocker, error) {
	u, err := f.Locker.Lock(ctx, key)
	if err == nil {
		f.last.Store(u.Fence())
	}
	return u, err
}

// newStore returns a memcached store with leases off (the tests measure the Locker, not
// memcached's leases) and a generous timeout (a slow answer on a loaded machine must not
// turn into a load), closed when t ends.
func newStore(t *testing.T, addr string) *memcached.Store {
	st := memcached.New([]string{addr}, memcached.Leases(0, 0), memcached.Timeout(2*time.Second))
	t.Cleanup(func() { st.Close() })
	return st
}

// newProcLocker returns an etcd Locker closed when t ends (before cli, registered earlier).
func newProcLocker(t *testing.T, cli *clientv3.Client, ttl time.Duration, prefix string) *lock.Etcd {
	t.Helper()
	l, err := lock.NewEtcd(cli, lock.TTL(ttl), lock.Prefix(prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// waitKeys returns once at least n keys are under prefix in etcd: the mutex's holder and
// its waiters. It waits on a watch, not a timer.
func waitKeys(t *testing.T, cli *clientv3.Client, prefix string, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procDeadline)
	defer cancel()
	for {
		resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatalf("counting the keys under %s: %v", prefix, err)
		}
		if resp.Count >= n {
			return
		}
		wctx, wcancel := context.WithCancel(ctx)
		<-cli.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(resp.Header.Revision+1))
		wcancel()
		if ctx.Err() != nil {
			t.Fatalf("%d keys under %s never appeared: %v", n, prefix, ctx.Err())
		}
	}
}

// runID returns a name no earlier run used: a namespace, a lock prefix.
func runID(what string) string {
	return what + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// proc is a child process of this test binary.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.Writer
	lines <-chan string // its stdout; closed at its end
}

// spawn starts a child in role with env added to this process's environment. It is
// killed, and waited for, when t ends; its stderr goes to t.Log.
func spawn(t *testing.T, name, role string, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockChild$", "-test.count=1")
	cmd.Env = append(append(os.Environ(), childEnv+"="+role), env...)
	cmd.Stderr = procLog{t, name}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-quit:
				return
			}
		}
	})
	t.Cleanup(func() {
		cmd.Process.Kill()
		close(quit)
		cmd.Wait() // closes stdout: the reader ends
		wg.Wait()
	})
	return &proc{t: t, name: name, cmd: cmd, stdin: stdin, lines: lines}
}

// expect returns the rest of the child's next stdout line that starts with prefix,
// logging the lines before it. It fails the test if the child ends or is silent for
// procDeadline first.
func (p *proc) expect(prefix string) string {
	p.t.Helper()
	deadline := time.NewTimer(procDeadline)
	defer deadline.Stop()
	for {
		select {
		case line, ok := <-p.lines:
			if !ok {
				p.t.Fatalf("child %s ended before printing %q", p.name, prefix)
			}
			if rest, found := strings.CutPrefix(line, prefix); found {
				return rest
			}
			p.t.Logf("child %s: %s", p.name, line)
		case <-deadline.C:
			p.t.Fatalf("child %s did not print %q within %v", p.name, prefix, procDeadline)
		}
	}
}

// report returns the name=number fields of the child's next line that starts with prefix.
func (p *proc) report(prefix string) map[string]uint64 {
	p.t.Helper()
	line := p.expect(prefix + " ")
	f := make(map[string]uint64)
	for _, kv := range strings.Fields(line) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			p.t.Fatalf("child %s: %s %s: %v", p.name, prefix, line, err)
		}
		f[k] = n
	}
	return f
}

// send writes a line to the child's stdin.
func (p *proc) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		p.t.Fatalf("writing to child %s: %v", p.name, err)
	}
}

// procLog logs a child's stderr through t.
type procLog struct {
	t    *testing.T
	name string
}

func (w procLog) Write(b []byte) (int, error) {
	for line := range strings.Lines(string(b)) {
		w.t.Logf("child %s stderr: %s", w.name, strings.TrimRight(line, "\n"))
	}
	return len(b), nil
}

// TestLockChild is the child process of the tests above, in the role named by childEnv;
// run by go test it does nothing.
func TestLockChild(t *testing.T) {
	switch role := os.Getenv(childEnv); role {
	case "":
		return // not a child
	case roleStorm:
		stormChild(t)
	case roleHold:
		holdChild(t)
	default:
		t.Fatalf("unknown child role %q", role)
	}
}

// childCache builds the child's Cache from its environment: a memcached store, and an
// etcd Locker on a client of its own when envTTL is set. All are closed when t ends.
func childCache(t *testing.T) (*cached.Cache, *lock.Etcd, *fenceSpy, *memcached.Store) {
	var l *lock.Etcd
	var spy *fenceSpy
	opts := []cached.Option{cached.WithNamespace(os.Getenv(envNS))}
	if ttl := os.Getenv(envTTL); ttl != "" {
		d, err := time.ParseDuration(ttl)
		if err != nil {
			t.Fatal(err)
		}
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   []string{os.Getenv(envEtcd)},
			DialTimeout: 5 * time.Second,
			Logger:      zap.NewNop(),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cli.Close() })
		l = newProcLocker(t, cli, d, os.Getenv(envPrefix))
		spy = &fenceSpy{Locker: l}
		opts = append(opts, cached.WithLocker(spy), cached.LockTimeout(30*time.Second))
	}
	st := newStore(t, os.Getenv(envMemcached))
	c := cached.New(append(opts, cached.WithStore(st))...)
	t.Cleanup(func() { c.Close() })
	return c, l, spy, st
}

// stormChild: 250 callers of one key wait for "go" on stdin, then call at once. The
// loader counts its runs in memcached, where the whole fleet's runs add up.
func stormChild(t *testing.T) {
	c, l, _, _ := childCache(t)
	mc := memcache.New(os.Getenv(envMemcached))
	mc.Timeout = 2 * time.Second
	defer mc.Close()
	var loads atomic.Uint64
	get := cached.Wrap(c, "value", func(_ context.Context, k string) (string, error) {
		loads.Add(1)
		if _, err := mc.Increment(os.Getenv(envCounter), 1); err != nil {
			t.Errorf("counting a load: %v", err)
		}
		time.Sleep(200 * time.Millisecond) // the database query: a cost, not synchronization
		return "value of " + k, nil
	})
	key := os.Getenv(envKey)
	ctx, cancel := context.WithTimeout(context.Background(), procDeadline)
	defer cancel()
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	var ok atomic.Uint64
	for range 250 {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			v, err := get(ctx, key)
			if v == "value of "+key && err == nil {
				ok.Add(1)
			} else {
				t.Errorf("get = %q, %v", v, err)
			}
		})
	}
	ready.Wait()
	fmt.Println("ready")
	bufio.NewScanner(os.Stdin).Scan() // "go"
	close(start)
	done.Wait()
	var contended uint64
	if l != nil {
		contended = l.Stats().Contended
		fmt.Fprintf(os.Stderr, "lock stats: %+v\n", l.Stats())
	}
	fmt.Printf("result loads=%d ok=%d contended=%d lockErrors=%d\n",
		loads.Load(), ok.Load(), contended, c.Stats().Total().LockErrors)
}

// holdChild: one caller whose loader prints "loading" (the lock is held) and returns the
// next line of stdin, or fails when stdin closes. After the call it closes the Cache,
// which waits for the Unlock, and prints what its store and Locker counted.
func holdChild(t *testing.T) {
	c, l, spy, st := childCache(t)
	in := bufio.NewScanner(os.Stdin)
	get := cached.Wrap(c, "value", func(context.Context, string) (string, error) {
		fmt.Println("loading")
		if !in.Scan() {
			return "", fmt.Errorf("stdin closed: %v", in.Err())
		}
		return in.Text(), nil
	})
	v, err := get(context.Background(), os.Getenv(envKey))
	fmt.Printf("got %q, %v\n", v, err)
	c.Close()
	fmt.Fprintf(os.Stderr, "store stats: %+v; lock stats: %+v\n", st.Stats(), l.Stats())
	fmt.Printf("stats fence=%d fenceDropped=%d lost=%d lockErrors=%d\n",
		spy.last.Load(), st.Stats().FenceDropped, l.Stats().Lost, c.Stats().Total().LockErrors)
}

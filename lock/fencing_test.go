//go:build unix

package lock_test

// The fencing test of issue 4, across OS processes (harness in process_test.go).

import (
	"context"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
)

// TestStalledHolderFenced: a process holding a key's lock stalls (SIGSTOP: its lease
// keepalive stops too) past the TTL. Another process takes the lock, loads "new" and
// stores it under a newer fence. When the stalled holder resumes and its loader returns
// "old", memcached drops the write as fenced out, its Unlock reports the lock lost, and
// the store keeps "new".
func TestStalledHolderFenced(t *testing.T) {
	etcd := etcdtest.Start(t)
	mc := memcachedtest.Start(t)
	cli := etcd.Client(t)
	const ttl = 2 * time.Second
	ns := runID("stall")
	prefix := "/" + ns + "/"
	child := spawn(t, "holder", roleHold, envEtcd+"="+etcd.Endpoint, envMemcached+"="+mc.Addr,
		envNS+"="+ns, envKey+"=k", envPrefix+"="+prefix, envTTL+"="+ttl.String())
	child.expect("loading") // the child holds the lock, fence f1
	if err := child.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()

	p := newParent(t, cli, mc.Addr, ns, prefix, ttl, "new")
	ctx, cancel := context.WithTimeout(context.Background(), procDeadline)
	defer cancel()
	v, err := p.get(ctx, "k") // returns once the stalled lease expired and the parent loaded
	t.Logf("SIGSTOP → the next holder's Get returned: %v (TTL %v)", time.Since(stopped), ttl)
	if v != "new" || err != nil {
		t.Fatalf("parent's Get = %q, %v; want \"new\", nil", v, err)
	}
	if n := p.loads.Load(); n != 1 {
		t.Errorf("parent's loads = %d; want 1", n)
	}

	if err := child.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	child.send("old") // the stalled loader returns "old"
	t.Logf("the stalled holder's own caller got: %s", child.expect("got "))
	f := child.report("stats")
	t.Logf("stalled holder: fence %d, store FenceDropped %d, lock Lost %d, LockErrors %d; next holder's fence %d",
		f["fence"], f["fenceDropped"], f["lost"], f["lockErrors"], p.fences.last.Load())
	if f2 := p.fences.last.Load(); f["fence"] == 0 || f["fence"] >= f2 {
		t.Errorf("fences: stalled holder %d, next holder %d; want 0 < stalled < next", f["fence"], f2)
	}
	if f["fenceDropped"] < 1 {
		t.Errorf("stalled holder's FenceDropped = %d; want >= 1", f["fenceDropped"])
	}
	if f["lost"] < 1 {
		t.Errorf("stalled holder's lock Lost = %d; want >= 1 (Unlock must report ErrLost)", f["lost"])
	}
	if f["lockErrors"] < 1 {
		t.Errorf("stalled holder's LockErrors = %d; want >= 1 (the lost Unlock is counted)", f["lockErrors"])
	}

	// A fresh store and cache, with no Locker, read what the fleet sees.
	st := newStore(t, mc.Addr)
	c := cached.New(cached.WithStore(st), cached.WithNamespace(ns))
	t.Cleanup(func() { c.Close() })
	var reloads atomic.Int64
	read := cached.Wrap(c, "value", func(context.Context, string) (string, error) {
		reloads.Add(1)
		return "reloaded", nil
	})
	if v, err := read(ctx, "k"); v != "new" || err != nil || reloads.Load() != 0 {
		t.Errorf("fresh read = %q, %v (loads %d); want \"new\", nil from the store", v, err, reloads.Load())
	}
}

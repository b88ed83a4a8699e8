package luapolicy_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/luapolicy"
)

func TestWatchEtcdUpdatesTheFleet(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const key = "/config/cache-policy"
	v1 := policyWithKey("v1:")
	if _, err := cli.Put(ctx, key, v1); err != nil {
		t.Fatal(err)
	}

	// Three instances start from a built-in default and follow the key.
	type instance struct {
		e    *luapolicy.Engine
		ch   chan luapolicy.Reload
		done chan error
	}
	var fleet []instance
	for range 3 {
		opt, ch := reloads()
		e := mustLoad(t, policyWithKey("default:"), opt)
		<-ch
		in := instance{e, ch, make(chan error, 1)}
		go func() { in.done <- e.WatchEtcd(ctx, cli, key) }()
		fleet = append(fleet, in)
	}
	for _, in := range fleet {
		awaitReload(t, in.ch, sum(v1))
		if k := decideKey(t, in.e, 1); k != "v1:1" {
			t.Errorf("key = %q; want v1:1 from the etcd key read at start", k)
		}
	}

	v2 := policyWithKey("v2:")
	if _, err := cli.Put(ctx, key, v2); err != nil {
		t.Fatal(err)
	}
	for _, in := range fleet {
		awaitReload(t, in.ch, sum(v2))
		if k, s := decideKey(t, in.e, 1), in.e.Stats(); k != "v2:1" || s.Source != "etcd:"+key {
			t.Errorf("after one put: key %q, source %q; want v2:1 from etcd:%s", k, s.Source, key)
		}
	}

	bad := "return { user = { ttl = -1 } }"
	if _, err := cli.Put(ctx, key, bad); err != nil {
		t.Fatal(err)
	}
	for _, in := range fleet {
		if r := awaitReload(t, in.ch, sum(bad)); !errors.Is(r.Err, luapolicy.ErrRejected) {
			t.Errorf("bad version: err = %v; want ErrRejected", r.Err)
		}
		if k := decideKey(t, in.e, 1); k != "v2:1" {
			t.Errorf("key after a rejected put = %q; want v2:1", k)
		}
	}

	// Deleting the key keeps the live version; closing an engine ends its watch.
	if _, err := cli.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	fleet[0].e.Close()
	if err := <-fleet[0].done; !errors.Is(err, luapolicy.ErrClosed) {
		t.Errorf("WatchEtcd after Close = %v; want ErrClosed", err)
	}
	if k := decideKey(t, fleet[1].e, 1); k != "v2:1" {
		t.Errorf("key after the delete = %q; want v2:1", k)
	}
	cancel()
	for _, in := range fleet[1:] {
		if err := <-in.done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchEtcd after cancel = %v; want context.Canceled", err)
		}
	}
}

func TestWatchEtcdResumesAfterRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const key = "/p"
	opt, ch := reloads()
	e := mustLoad(t, policyWithKey("default:"), opt)
	<-ch
	done := make(chan error, 1)
	go func() { done <- e.WatchEtcd(ctx, cli, key) }()

	v1 := policyWithKey("v1:")
	if _, err := cli.Put(ctx, key, v1); err != nil {
		t.Fatal(err)
	}
	awaitReload(t, ch, sum(v1))
	srv.Stop() // the watch breaks; WatchEtcd retries until etcd is back
	srv.Restart(t)
	v2 := policyWithKey("v2:")
	if _, err := cli.Put(ctx, key, v2); err != nil {
		t.Fatal(err)
	}
	awaitReload(t, ch, sum(v2))
	cancel()
	<-done
}

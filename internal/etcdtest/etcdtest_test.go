package etcdtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/etcdtest"
	"go.uber.org/goleak"
)

// TestStartStopRestart: a value written before Stop is read after Restart, and a stopped
// server refuses requests.
func TestStartStopRestart(t *testing.T) {
	srv := etcdtest.Start(t)
	cli := srv.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	lease, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if lease.TTL != 1 {
		t.Errorf("granted TTL = %d; want 1 (the shortest lease the test server grants)", lease.TTL)
	}
	srv.Stop()
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = cli.Get(short, "k")
	cancelShort()
	if err == nil {
		t.Fatal("a stopped server answered")
	}
	srv.Restart(t)
	resp, err := cli.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Errorf("after restart k = %v; want v", resp.Kvs)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

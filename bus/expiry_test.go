package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// TestEventKeysExpire: event keys live on a lease that is not kept alive, so they do not
// pile up.
func TestEventKeysExpire(t *testing.T) {
	pfx := prefix(t)
	a, cli := newBus(t, srv, bus.Prefix(pfx), bus.EventTTL(time.Second))
	in := inbox(a)
	for range 5 {
		publish(t, a, cached.Message{Topic: "t"})
		next(t, in)
	}
	count := func() int64 {
		resp, err := cli.Get(context.Background(), pfx, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			t.Fatal(err)
		}
		return resp.Count
	}
	if n := count(); n != 5 {
		t.Fatalf("%d keys under the prefix after 5 publishes; want 5", n)
	}
	eventually(t, 5*time.Second, "event keys expire", func() bool { return count() == 0 })
	if s := a.Stats(); s.Delivered != 5 || s.Resyncs != 0 {
		t.Errorf("Delivered %d, Resyncs %d; want 5, 0: expiry deletions are not events", s.Delivered, s.Resyncs)
	}
}

package bus_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/internal/etcdtest"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
)

// srv is the etcd server the package's tests share; each test uses its own prefix.
// Tests that stop etcd start their own.
var srv *etcdtest.Server

func TestMain(m *testing.M) {
	var err error
	if srv, err = etcdtest.Launch(); err != nil {
		fmt.Fprintln(os.Stderr, err) // in CI a missing etcd fails, never skips
		os.Exit(1)
	}
	code := m.Run()
	srv.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// prefix returns a prefix no other test uses.
func prefix(t *testing.T) string {
	return fmt.Sprintf("/bustest/%s/%d/", t.Name(), time.Now().UnixNano())
}

// newBus returns a bus on its own client of s, both closed when t ends.
func newBus(t *testing.T, s *etcdtest.Server, opts ...bus.Option) (*bus.Etcd, *clientv3.Client) {
	t.Helper()
	cli := s.Client(t)
	b, err := bus.NewEtcd(cli, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, cli
}

// inbox subscribes to b and returns the channel its messages arrive on.
func inbox(b cached.Bus) <-chan cached.Message {
	ch := make(chan cached.Message, 1024)
	b.Subscribe(func(m cached.Message) { ch <- m })
	return ch
}

// next returns the next message of ch, failing t after 5 seconds.
func next(t *testing.T, ch <-chan cached.Message) cached.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no message within 5s")
		return cached.Message{}
	}
}

// eventually polls cond (a counter, a child process's state: no event to wait on) until
// it holds, failing t after d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func publish(t *testing.T, b cached.Bus, m cached.Message) {
	t.Helper()
	if err := b.Publish(context.Background(), m); err != nil {
		t.Fatalf("Publish: %v", err)
	}
}

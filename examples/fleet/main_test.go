package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/cachedgo/cached/internal/etcdtest"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestFleet runs the demo against real servers and checks the claims it prints.
func TestFleet(t *testing.T) {
	mc := memcachedtest.Start(t)
	etcd := etcdtest.Start(t)
	const n = 3
	var out bytes.Buffer
	if err := run(context.Background(), &out, config{[]string{mc.Addr}, []string{etcd.Endpoint}, n}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	t.Log("\n" + out.String())
	want := []string{
		fmt.Sprintf("1. stampede: %d callers (%d instances x 50 goroutines)", n*50, n),
		"the database was queried 1 time(s) in total",
	}
	for i := range n {
		want = append(want, fmt.Sprintf("instance %d stopped serving \"v1\" from its in-process tier after", i),
			fmt.Sprintf("instance %d: lock acquired=", i))
	}
	for _, s := range want {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), "bus connected=false") {
		t.Errorf("a bus reports itself disconnected:\n%s", out.String())
	}
}

// TestUnreachable: a server that does not answer is an error that says which flag to pass.
func TestUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String() // nothing listens here once l is closed
	l.Close()
	mc := memcachedtest.Start(t)
	for _, tc := range []struct {
		name string
		cfg  config
		want string
	}{
		{"memcached", config{[]string{closed}, []string{closed}, 1}, "cannot reach memcached at " + closed + "; start it or pass -memcached"},
		{"etcd", config{[]string{mc.Addr}, []string{closed}, 1}, "cannot reach etcd at " + closed + "; start it or pass -etcd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(context.Background(), &out, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}

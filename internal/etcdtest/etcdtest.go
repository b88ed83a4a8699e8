// Package etcdtest starts a real etcd server for tests: a child process on free loopback
// ports with a temporary data directory, stopped when the test ends. A missing etcd binary
// fails the test (make test installs Debian's etcd-server): a test that needs etcd never
// passes without one.
//
// The server runs with a short heartbeat (25ms) and election timeout (250ms), so that the
// shortest lease it grants is 1s and lease-expiry tests stay quick.
package etcdtest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/proc"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Server is an etcd child process.
type Server struct {
	Endpoint string // "127.0.0.1:port", the client endpoint

	proc       proc.Server
	dir        string
	clientPort int
	peerPort   int
}

// Start starts an etcd server and stops it (and removes its data) when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Launch starts an etcd server outside a test (in TestMain, for the package's runnable
// examples); the caller calls Close.
func Launch() (*Server, error) {
	dir, err := os.MkdirTemp("", "etcdtest-")
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir}
	if s.clientPort, err = proc.FreePort(); err == nil {
		s.peerPort, err = proc.FreePort()
	}
	if err == nil {
		s.Endpoint = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.clientPort))
		err = s.start()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	client := "http://" + s.Endpoint
	peer := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(s.peerPort))
	hc := &http.Client{Timeout: 200 * time.Millisecond}
	healthy := func() error {
		resp, err := hc.Get(client + "/health")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/health: %s", resp.Status)
		}
		return nil
	}
	return s.proc.Start("etcd", "apt-get install etcd-server", healthy,
		"--name", "test",
		"--data-dir", s.dir,
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "test="+peer,
		"--heartbeat-interval", "25",
		"--election-timeout", "250",
		"--logger", "zap",
		"--log-level", "error",
	)
}

// Stop kills the server and waits for it to exit; its data directory stays, for Restart.
// It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

// Restart starts the server again after Stop, on the same ports and data.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

// Close stops the server and removes its data. It is idempotent.
func (s *Server) Close() {
	s.Stop()
	os.RemoveAll(s.dir)
}

// Client returns a client of the server, closed when t ends.
func (s *Server) Client(t testing.TB) *clientv3.Client {
	t.Helper()
	cli, err := s.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// NewClient returns a client of the server that has read from it once; the caller closes
// it. Its logger is silent: the tests stop and restart servers on purpose.
func (s *Server) NewClient() (*clientv3.Client, error) {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.Endpoint},
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cli.Get(ctx, "health-check"); err != nil {
		cli.Close()
		return nil, fmt.Errorf("etcd client cannot read: %w", err)
	}
	return cli, nil
}

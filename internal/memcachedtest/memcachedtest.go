// Package memcachedtest starts real memcached servers for tests: child processes on free
// loopback ports, stopped when the test ends. A missing memcached binary fails the test
// (make test installs it): a test that needs a server never passes without one.
package memcachedtest

import (
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/proc"
)

// Server is a memcached child process.
type Server struct {
	Addr string // "127.0.0.1:port"

	proc proc.Server
	port int
}

// Start starts a memcached server on a free loopback port and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := Launch()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Launch starts a memcached server outside a test (in TestMain, or an example); the
// caller calls Stop.
func Launch() (*Server, error) {
	port, err := proc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{port: port, Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	return s, s.start()
}

// Stop kills the server and waits for it to exit. It is idempotent.
func (s *Server) Stop() { s.proc.Stop() }

// Restart starts the server again on the same port after Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.start(); err != nil {
		t.Fatal(err)
	}
}

func (s *Server) start() error {
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "0", "-m", "64", "-c", "1024", "-t", "2"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root without -u
	}
	accepts := func() error {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
	return s.proc.Start("memcached", "apt-get install memcached", accepts, args...)
}

// String returns the address.
func (s *Server) String() string { return s.Addr }

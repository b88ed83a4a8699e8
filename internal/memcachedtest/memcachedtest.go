// Package memcachedtest starts real memcached servers for tests: child processes on free
// loopback ports, stopped when the test ends. A missing memcached binary fails the test
// (make test installs it): a test that needs a server never passes without one.
package memcachedtest

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a memcached child process.
type Server struct {
	Addr string // "127.0.0.1:port"

	mu   sync.Mutex // protects cmd
	cmd  *exec.Cmd
	port int
}

// Start starts a memcached server on a free loopback port and stops it when t ends.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Fatalf("memcached is not installed (make test installs it: apt-get install memcached): %v", err)
	}
	s := &Server{port: freePort(t)}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.start(t, bin)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB, bin string) {
	t.Helper()
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(s.port), "-U", "0", "-m", "64", "-c", "1024", "-t", "2"}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // memcached refuses to run as root without -u
	}
	cmd := exec.Command(bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting memcached: %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("memcached on %s did not accept connections: %v; its stderr: %s", s.Addr, err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a child process's socket: no event to wait on
	}
}

// Stop kills the server and waits for it to exit. It is idempotent.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
}

// Restart starts the server again on the same port after Stop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	bin, err := exec.LookPath("memcached")
	if err != nil {
		t.Fatal(err)
	}
	s.start(t, bin)
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String returns the address.
func (s *Server) String() string { return s.Addr }

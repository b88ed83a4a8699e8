// Package proc runs the real servers the tests use (memcached, etcd) as child processes:
// start one, wait until it answers, stop it. internal/memcachedtest and internal/etcdtest
// build on it.
package proc

import (
	"bytes"
	"fmt"
	"net"
	"os/exec"
	"sync"
	"time"
)

// Server is a child process that serves on loopback. Its zero value is ready to Start.
type Server struct {
	// ReadyWithin bounds how long Start waits for the server to become ready; zero means
	// 20 seconds.
	ReadyWithin time.Duration

	mu  sync.Mutex // protects cmd
	cmd *exec.Cmd
}

// Start runs name (looked up in PATH: install is how to get it when it is missing) with
// args, and returns once ready reports nil, or an error with the server's stderr when
// ready keeps failing for ReadyWithin.
func (s *Server) Start(name, install string, ready func() error, args ...string) error {
	bin, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("%s is not installed (make test installs it: %s): %w", name, install, err)
	}
	cmd := exec.Command(bin, args...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	within := s.ReadyWithin
	if within == 0 {
		within = 20 * time.Second
	}
	deadline := time.Now().Add(within)
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.Stop()
			return fmt.Errorf("%s did not become ready: %v; its stderr: %s", name, err, stderr.String())
		}
		time.Sleep(10 * time.Millisecond) // polling a child process: no event to wait on
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

// FreePort returns a loopback TCP port nobody listens on now.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

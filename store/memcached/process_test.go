package memcached_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/memcachedtest"
	"github.com/cachedgo/cached/store/memcached"
)

// TestLeasesAcrossOSProcesses: four OS processes (this test binary, run again as children)
// with 50 callers each hit one cold key at once. With leases the fleet loads it about
// once; without, about once per process.
func TestLeasesAcrossOSProcesses(t *testing.T) {
	if os.Getenv("STORM_CHILD") != "" {
		return // the child runs TestStormChild
	}
	srv := memcachedtest.Start(t)
	for _, leases := range []bool{true, false} {
		loads := processStorm(t, srv.Addr, leases, fmt.Sprint("hot-", leases))
		t.Logf("4 processes × 50 callers, leases=%v: %d loads", leases, loads)
		if leases && loads != 1 {
			t.Errorf("loads with leases = %d; want 1", loads)
		}
		if !leases && loads < 2 {
			t.Errorf("loads without leases = %d; want about one per process (the test did not race)", loads)
		}
	}
}

// processStorm starts four children, waits until each is ready, releases them together and
// returns the sum of their loads.
func processStorm(t *testing.T, addr string, leases bool, key string) int {
	type child struct {
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   *bufio.Scanner
	}
	var children []child
	for range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStormChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "STORM_CHILD=1", "STORM_ADDR="+addr, "STORM_KEY="+key,
			"STORM_LEASES="+strconv.FormatBool(leases))
		cmd.Stderr = testWriter{t}
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		children = append(children, child{cmd, stdin, bufio.NewScanner(stdout)})
	}
	for _, c := range children { // each prints "ready" once its callers wait for the start
		if !waitLine(c.out, "ready") {
			t.Fatal("a child did not get ready")
		}
	}
	for _, c := range children {
		io.WriteString(c.stdin, "go\n")
	}
	total := 0
	for _, c := range children {
		for c.out.Scan() {
			if n, ok := strings.CutPrefix(c.out.Text(), "loads "); ok {
				v, _ := strconv.Atoi(n)
				total += v
				break
			}
		}
		c.cmd.Wait()
	}
	return total
}

func waitLine(s *bufio.Scanner, want string) bool {
	for s.Scan() {
		if s.Text() == want {
			return true
		}
	}
	return false
}

// TestStormChild is one process of TestLeasesAcrossOSProcesses.
func TestStormChild(t *testing.T) {
	if os.Getenv("STORM_CHILD") == "" {
		return // only meaningful as a child
	}
	// Generous waits and timeouts: a loaded machine must not turn a wait into a load.
	opts := []memcached.Option{memcached.Timeout(time.Second), memcached.Leases(10*time.Second, 2*time.Second)}
	if os.Getenv("STORM_LEASES") == "false" {
		opts = append(opts, memcached.Leases(0, 0))
	}
	s := memcached.New([]string{os.Getenv("STORM_ADDR")}, opts...)
	defer s.Close()
	c := cached.New(cached.WithStore(s))
	defer c.Close()
	var loads atomic.Int64
	get := cached.Wrap(c, "report", func(context.Context, string) (string, error) {
		loads.Add(1)
		time.Sleep(30 * time.Millisecond) // the query
		return "report", nil
	})
	start := make(chan struct{})
	var ready, done sync.WaitGroup
	for range 50 {
		ready.Add(1)
		done.Go(func() {
			ready.Done()
			<-start
			if v, err := get(context.Background(), os.Getenv("STORM_KEY")); v != "report" || err != nil {
				t.Errorf("got %q, %v", v, err)
			}
		})
	}
	ready.Wait()
	fmt.Println("ready")
	bufio.NewScanner(os.Stdin).Scan() // "go"
	close(start)
	done.Wait()
	fmt.Fprintf(os.Stderr, "child stats: %+v\n", s.Stats()) // for diagnosis when the parent fails
	fmt.Println("loads", loads.Load())
}

// testWriter logs a child's stderr through t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Logf("child: %s", strings.TrimSpace(string(p)))
	return len(p), nil
}

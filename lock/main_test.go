package lock_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/cachedgo/cached/internal/etcdtest"
	"go.uber.org/goleak"
)

// endpoint is the etcd server the package's examples use; tests start their own.
var endpoint string

// TestMain starts an etcd server for the examples (a child process of this test binary
// runs without one: it is given its servers) and checks that no test leaks a goroutine.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(m.Run())
	}
	srv, err := etcdtest.Launch()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	endpoint = srv.Endpoint
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

// childEnv is set in the environment of a child process of this test binary: its value
// names the child's role (see process_test.go).
const childEnv = "LOCK_CHILD"

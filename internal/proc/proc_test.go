package proc_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached/internal/proc"
)

// TestMissingBinaryFails: a server that is not installed is an error that says how to
// install it, never a skip.
func TestMissingBinaryFails(t *testing.T) {
	var s proc.Server
	err := s.Start("no-such-server-binary", "apt-get install no-such-server", func() error { return nil })
	if err == nil || !strings.Contains(err.Error(), "apt-get install no-such-server") {
		t.Errorf("Start of a missing binary = %v; want an error saying how to install it", err)
	}
}

// TestNotReadyFailsWithStderr: a server that never becomes ready is stopped and reported
// with what it printed.
func TestNotReadyFailsWithStderr(t *testing.T) {
	s := proc.Server{ReadyWithin: 300 * time.Millisecond}
	err := s.Start("sh", "", func() error { return errors.New("not yet") }, "-c", "echo broken config >&2; exec sleep 60")
	if err == nil || !strings.Contains(err.Error(), "broken config") {
		t.Errorf("Start of a server that never gets ready = %v; want its stderr in the error", err)
	}
}

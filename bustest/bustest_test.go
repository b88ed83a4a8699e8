package bustest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bustest"
)

// faulty is one instance on a shared cached.LocalBus that breaks one rule of the
// cached.Bus contract.
type faulty struct {
	medium *cached.LocalBus
	fault  string
	mu     sync.Mutex // protects n and held
	n      int        // messages published
	held   *cached.Message
}

func (f *faulty) Publish(ctx context.Context, m cached.Message) error {
	f.mu.Lock()
	f.n++
	n := f.n
	f.mu.Unlock()
	switch f.fault {
	case "dropsEvery7th":
		if n%7 == 0 {
			return nil
		}
	case "losesData":
		m.Data = nil
	case "rewritesKeys":
		m.Key = strings.ToValidUTF8(m.Key, "?")
	case "duplicates":
		f.medium.Publish(ctx, m)
	case "reorders": // holds every odd message back until the next one is out
		if n%2 == 1 {
			f.mu.Lock()
			f.held = &m
			f.mu.Unlock()
			return nil
		}
		f.mu.Lock()
		held := f.held
		f.held = nil
		f.mu.Unlock()
		if held != nil {
			defer f.medium.Publish(ctx, *held)
		}
	}
	return f.medium.Publish(ctx, m)
}

func (f *faulty) Subscribe(h func(cached.Message)) func() {
	unsubscribe := f.medium.Subscribe(h)
	switch f.fault {
	case "notToSelf":
		// Deliver only other instances' messages: a per-instance filter.
		unsubscribe()
		return f.medium.Subscribe(func(m cached.Message) {
			if m.Source != "instance-a" {
				h(m)
			}
		})
	case "ignoresUnsubscribe":
		return func() {}
	}
	return unsubscribe
}

var faults = []string{"dropsEvery7th", "losesData", "rewritesKeys", "duplicates", "reorders", "notToSelf", "ignoresUnsubscribe"}

func TestLocalBusPasses(t *testing.T) {
	bustest.Run(t, func(*testing.T) (a, b cached.Bus) {
		bus := new(cached.LocalBus)
		return bus, bus
	})
}

// TestSuiteCatchesBrokenBuses runs the suite, in a child process, against buses that
// each break one rule, and checks that it fails for each.
func TestSuiteCatchesBrokenBuses(t *testing.T) {
	if os.Getenv("BUSTEST_FAULT") != "" {
		return // the child runs TestBrokenBusChild instead
	}
	for _, fault := range faults {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenBusChild$", "-test.count=1", "-test.failfast")
			cmd.Env = append(os.Environ(), "BUSTEST_FAULT="+fault)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "--- FAIL") {
				t.Errorf("the suite passed a bus that %s:\n%s", fault, out)
			}
		})
	}
}

func TestBrokenBusChild(t *testing.T) {
	fault := os.Getenv("BUSTEST_FAULT")
	if fault == "" {
		return // only meaningful in the child of TestSuiteCatchesBrokenBuses
	}
	bustest.Run(t, func(*testing.T) (a, b cached.Bus) {
		medium := new(cached.LocalBus)
		return &faulty{medium: medium, fault: fault}, &faulty{medium: medium, fault: fault}
	})
}

// ExampleRun shows a bus's conformance test. It is compiled, not run: Run needs the
// *testing.T of a real test.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T) in the bus's package
		bustest.Run(t, func(*testing.T) (a, b cached.Bus) {
			bus := new(cached.LocalBus)
			return bus, bus
		})
	}
}

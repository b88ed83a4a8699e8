package locktest_test

import (
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/locktest"
)

// pair returns the newPair of Run for two memLockers on one medium, both with fault.
func pair(fault string) func(*testing.T) (a, b cached.Locker) {
	return func(*testing.T) (a, b cached.Locker) {
		m := newMedium()
		return &memLocker{m: m, fault: fault}, &memLocker{m: m, fault: fault}
	}
}

func TestReferenceLockerPasses(t *testing.T) {
	locktest.Run(t, pair(""), locktest.RequireFence())
}

// TestUnfencedLockerPasses: a Locker that gives no fencing tokens (Fence always 0) keeps
// the contract; only RequireFence fails it (see the noFence fault).
func TestUnfencedLockerPasses(t *testing.T) {
	locktest.Run(t, pair("noFence"))
}

// faults are the broken memLockers, each with the subtests that must fail for it.
var faults = []struct {
	fault string
	fails []string
}{
	{"neverExcludes", []string{"Exclusion", "Concurrent", "DoubleUnlock", "WakeUp"}},
	{"constantFence", []string{"Fences"}},
	{"noFence", []string{"Fences"}}, // run with RequireFence
	{"ignoresCtx", []string{"Context"}},
	{"leaksWaiter", []string{"Context"}},
	{"doubleUnlockReleases", []string{"DoubleUnlock"}},
	{"truncatesKeys", []string{"IndependentKeys"}},
}

var failLine = regexp.MustCompile(`--- FAIL: TestBrokenLockerChild/(\S+)`)

// TestSuiteCatchesBrokenLockers runs the suite, in a child process, against lockers that
// each break one rule, and checks that it fails for each, in the subtests that check
// that rule.
func TestSuiteCatchesBrokenLockers(t *testing.T) {
	if os.Getenv("LOCKTEST_FAULT") != "" {
		return // the child runs TestBrokenLockerChild instead
	}
	for _, f := range faults {
		t.Run(f.fault, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenLockerChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), "LOCKTEST_FAULT="+f.fault)
			out, err := cmd.CombinedOutput()
			var failed []string
			for _, m := range failLine.FindAllStringSubmatch(string(out), -1) {
				failed = append(failed, m[1])
			}
			if err == nil || len(failed) == 0 {
				t.Fatalf("the suite passed a locker with %s (%v):\n%s", f.fault, err, out)
			}
			for _, want := range f.fails {
				if !slices.Contains(failed, want) {
					t.Errorf("with %s, failed subtests %v; want %s among them:\n%s", f.fault, failed, want, out)
				}
			}
			t.Logf("%s fails %s", f.fault, strings.Join(failed, ", "))
		})
	}
}

func TestBrokenLockerChild(t *testing.T) {
	fault := os.Getenv("LOCKTEST_FAULT")
	if fault == "" {
		return // only meaningful in the child of TestSuiteCatchesBrokenLockers
	}
	// A short LockWait: a locker that keeps a key it should free fails in a second.
	locktest.Run(t, pair(fault), locktest.RequireFence(), locktest.LockWait(time.Second))
}

// ExampleRun shows a Locker's conformance test. It is compiled, not run: Run needs the
// *testing.T of a real test.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T) in the Locker's package
		locktest.Run(t, func(*testing.T) (a, b cached.Locker) {
			m := newMedium() // the medium both lockers share: a server, for a real Locker
			return &memLocker{m: m}, &memLocker{m: m}
		}, locktest.RequireFence())
	}
}

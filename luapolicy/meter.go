package luapolicy

import (
	"context"
	"fmt"
	"runtime/metrics"
	"time"
)

// epoch is the origin of mono, the monotonic clock runs are timed with.
var epoch = time.Now()

func mono() int64 { return int64(time.Since(epoch)) }

// closedCh is what meter.Done returns once a run must stop.
var closedCh = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// meter is the context a VM runs under: gopher-lua calls Done before every instruction,
// which makes it the VM's instruction hook. Every 64th call checks the run's deadline and
// the caller's context, every 256th its allocations; once a limit is passed Done returns
// a closed channel for the rest of the run, so a script that catches the error with pcall
// fails again at its next instruction.
//
// Why not context.WithTimeout: it allocates a timer per run and cannot count allocations.
type meter struct {
	parent   context.Context // the caller's context
	limit    time.Duration   // the run's time budget
	budget   int64           // the run's allocation budget, bytes
	maxStr   int             // MaxString
	steps    uint32          // Done calls this run
	t0       int64           // mono() at the start of a timed run, or 0
	deadline int64           // mono() deadline; 0 until the first check
	base     uint64          // process allocations at the first memory check; 0 before it
	built    int64           // bytes the run built through the guarded functions (strings, arrays)
	patterns float64         // worst-case steps of the run's pattern matches
	err      error           // why the run must stop, or nil
	sample   [1]metrics.Sample
}

// start resets m for a run.
func (m *meter) start(ctx context.Context, limit time.Duration, budget int64) {
	m.parent, m.limit, m.budget = ctx, limit, budget
	m.steps, m.base, m.built, m.patterns, m.err = 0, 0, 0, 0, nil
	m.t0, m.deadline = 0, 0
}

// timed starts timing the run for the call time quantiles (one run in eight: a clock read
// is a tenth of a short run).
func (m *meter) timed() { m.t0 = mono() }

// finish returns how long the run took, or -1 when it was not timed. A run that ended
// past its deadline between two checks is not failed: the deadline is wall time, and a
// short run descheduled for a moment (the Go scheduler's slice is 10ms) must not change
// its call's key. What a short run can spend inside its instructions is bounded by the
// limits on strings, patterns and indexes instead.
func (m *meter) finish() time.Duration {
	if m.t0 == 0 {
		return -1
	}
	return time.Duration(mono() - m.t0)
}

// Deadline reports no deadline: the run's is checked by Done.
func (m *meter) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is called by the VM before each instruction.
func (m *meter) Done() <-chan struct{} {
	m.steps++
	if m.steps&63 == 0 && m.err == nil {
		m.check()
	}
	if m.err != nil {
		return closedCh
	}
	return nil
}

// Err is why the run stopped.
func (m *meter) Err() error { return m.err }

// Value is the caller's context's value.
func (m *meter) Value(k any) any {
	if m.parent == nil {
		return nil
	}
	return m.parent.Value(k)
}

func (m *meter) allocs() uint64 {
	m.sample[0].Name = "/gc/heap/allocs:bytes"
	metrics.Read(m.sample[:])
	return m.sample[0].Value.Uint64()
}

// check compares the run with its limits: the clock and the caller's context every 64
// instructions, the allocations (200ns to read) every 256.
func (m *meter) check() {
	// The clock starts at the first check, so that a run of fewer than 64 instructions
	// (most key functions) never reads it; the deadline is late by those instructions.
	if now := mono(); m.deadline == 0 {
		m.deadline = now + int64(m.limit)
	} else if now > m.deadline {
		m.err = fmt.Errorf("%w after %v", ErrTimeout, m.limit)
		return
	}
	if m.base == 0 || m.steps&255 == 0 {
		if a := m.allocs(); m.base == 0 {
			m.base = a // at the 64th instruction: what earlier ones allocate is bounded
		} else if used := a - m.base; used > uint64(m.budget) {
			m.err = fmt.Errorf("%w: allocated %d bytes, over the budget of %d", ErrMemory, used, m.budget)
			return
		}
	}
	if m.parent != nil {
		select {
		case <-m.parent.Done():
			m.err = m.parent.Err()
		default:
		}
	}
}

// fail stops the run with err, unless it is already stopping.
func (m *meter) fail(err error) {
	if m.err == nil {
		m.err = err
	}
}

// build is called by the guarded functions before they build a string of n bytes: it
// fails the run when n passes MaxString or the run's strings pass its budget.
func (m *meter) build(n int) error {
	if m.err != nil {
		return m.err
	}
	if n < 0 || n > m.maxStr {
		m.err = fmt.Errorf("%w: a string of %d bytes is longer than MaxString (%d)", ErrMemory, n, m.maxStr)
		return m.err
	}
	return m.charge(int64(n))
}

// charge counts n bytes a guarded function is about to allocate against the run's budget.
func (m *meter) charge(n int64) error {
	if m.err != nil {
		return m.err
	}
	if m.built += n; m.built > m.budget {
		m.err = fmt.Errorf("%w: built %d bytes of strings and arrays, over the budget of %d", ErrMemory, m.built, m.budget)
	}
	return m.err
}

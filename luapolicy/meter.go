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
// which makes it the VM's instruction hook. Every 256th call checks the run's deadline,
// its allocations and the caller's context; once a limit is passed Done returns a closed
// channel for the rest of the run, so a script that catches the error with pcall fails
// again at its next instruction.
//
// Why not context.WithTimeout: it allocates a timer per run and reads the clock, which on
// a 250ns key function is most of the cost; and it cannot count allocations.
type meter struct {
	parent   context.Context // the caller's context
	limit    time.Duration   // the run's time budget
	budget   int64           // the run's allocation budget, bytes
	maxStr   int             // MaxString
	steps    uint32          // Done calls this run
	deadline int64           // mono() deadline; 0 until the first check
	base     uint64          // process allocations at the first check
	built    int64           // bytes of strings the run built through the guarded functions
	err      error           // why the run must stop, or nil
	sample   [1]metrics.Sample
}

// start resets m for a run.
func (m *meter) start(ctx context.Context, limit time.Duration, budget int64) {
	m.parent, m.limit, m.budget = ctx, limit, budget
	m.steps, m.deadline, m.base, m.built, m.err = 0, 0, 0, 0, nil
}

// Deadline reports no deadline: the run's is checked by Done.
func (m *meter) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is called by the VM before each instruction.
func (m *meter) Done() <-chan struct{} {
	m.steps++
	if m.steps&255 == 0 && m.err == nil {
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

// check compares the run with its limits. The clock starts at the first check, so that a
// run of fewer than 256 instructions (most key functions) never reads it.
func (m *meter) check() {
	now := mono()
	if m.deadline == 0 {
		m.deadline = now + int64(m.limit)
		m.base = m.allocs()
	} else if now > m.deadline {
		m.err = fmt.Errorf("%w after %v", ErrTimeout, m.limit)
		return
	} else if used := m.allocs() - m.base; used > uint64(m.budget) {
		m.err = fmt.Errorf("%w: allocated %d bytes, over the budget of %d", ErrMemory, used, m.budget)
		return
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
	if m.built += int64(n); m.built > m.budget {
		m.err = fmt.Errorf("%w: built %d bytes of strings, over the budget of %d", ErrMemory, m.built, m.budget)
	}
	return m.err
}

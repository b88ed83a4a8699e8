package locktest_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// medium is what the reference Lockers of one pair share, as two processes share a
// server: one slot per key, which holds a value while the key is locked, and a fence
// counter per key.
type medium struct {
	mu     sync.Mutex // protects slots and fences
	slots  map[string]chan struct{}
	fences map[string]uint64
}

func newMedium() *medium {
	return &medium{slots: make(map[string]chan struct{}), fences: make(map[string]uint64)}
}

func (m *medium) slot(key string) chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.slots[key]
	if s == nil {
		s = make(chan struct{}, 1)
		m.slots[key] = s
	}
	return s
}

func (m *medium) nextFence(key string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fences[key]++
	return m.fences[key]
}

// memLocker is a reference cached.Locker: one instance on a medium. fault, when set,
// names the rule of the contract it breaks (see faults in locktest_test.go).
type memLocker struct {
	m     *medium
	fault string
}

var errNotHeld = errors.New("memLocker: unlock of a lock not held")

func (l *memLocker) Lock(ctx context.Context, key string) (cached.Unlocker, error) {
	if l.fault == "truncatesKeys" && len(key) > 500 {
		key = key[:500]
	}
	slot := l.m.slot(key)
	switch l.fault {
	case "neverExcludes":
		slot = nil // takes nothing
	case "ignoresCtx": // gives up after a fixed time instead, so the self-test stays quick
		select {
		case slot <- struct{}{}:
		case <-time.After(3 * time.Second):
			return nil, errors.New("memLocker: gave up after 3s")
		}
	default:
		if err := ctx.Err(); err != nil { // select would pick a free slot half the time
			return nil, err
		}
		select {
		case slot <- struct{}{}:
		case <-ctx.Done():
			if l.fault == "leaksWaiter" { // the wait goes on, and its lock is never released
				go func() { slot <- struct{}{} }()
			}
			return nil, ctx.Err()
		}
	}
	h := &memHeld{slot: slot, twice: l.fault == "doubleUnlockReleases"}
	switch l.fault {
	case "constantFence":
		h.fence = 1
	case "noFence":
	default:
		h.fence = l.m.nextFence(key)
	}
	return h, nil
}

// memHeld is a lock a memLocker holds.
type memHeld struct {
	slot  chan struct{} // nil when the lock took none
	fence uint64
	twice bool // a second Unlock empties the slot again, releasing the next holder
	done  atomic.Bool
}

func (h *memHeld) Unlock(context.Context) error {
	if !h.done.CompareAndSwap(false, true) && !h.twice {
		return errNotHeld
	}
	select {
	case <-h.slot:
	default:
	}
	return nil
}

func (h *memHeld) Fence() uint64 { return h.fence }

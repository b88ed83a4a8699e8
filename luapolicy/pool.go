package luapolicy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// poolWait bounds, in call timeouts, how long a call waits for a state when all are busy.
// Runs are bounded by the call timeout, so the queue drains; falling back early would
// change the call's key under load, which costs a miss and a write under another key.
const poolWait = 100

// pool holds a version's Lua states. A call takes one of PoolSize slots, then an idle
// state, or makes one; it returns the state and frees the slot. So at most PoolSize
// states of a version exist; a waiter is handed the slot of any call that ends (its state
// reused, closed after a limit, or closed because the version was retired), so a retired
// version's waiters still get slots, and states of their own, within the bound.
//
// Why not a channel of states, or x/sync/semaphore plus a locked stack: either costs two
// synchronisations per get and two per put where this costs one mutex each way, on a path
// of a few hundred nanoseconds.
type pool struct {
	ver  *version
	size int

	mu      sync.Mutex // protects the fields below
	idle    []*vm
	busy    int             // slots taken
	waiters []chan struct{} // FIFO; a send hands its waiter a slot
	retired bool            // no longer live: states are closed when returned
}

func (p *pool) init(ver *version) {
	p.ver = ver
	p.size = ver.e.cfg.poolSize
}

// seed adds states that have run the top level, closing those the pool has no room for.
func (p *pool) seed(vs ...*vm) {
	for i, v := range vs {
		if i < p.size {
			p.idle = append(p.idle, v)
			p.ver.e.states.Add(1)
		} else {
			v.close()
		}
	}
}

// get takes a slot and a state for one run.
func (p *pool) get(ctx context.Context) (*vm, error) {
	e := p.ver.e
	if e.closed.Load() {
		return nil, ErrClosed
	}
	p.mu.Lock()
	if p.busy < p.size {
		p.busy++
		v := p.pop()
		p.mu.Unlock()
		if v != nil {
			return v, nil
		}
		return p.make()
	}
	ch := make(chan struct{}, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	wait := poolWait * e.cfg.callTimeout
	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	select {
	case <-ch:
	case <-t.C:
		err = fmt.Errorf("%w: all %d Lua states busy for %v", ErrTimeout, p.size, wait)
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		p.mu.Lock()
		if i := slices.Index(p.waiters, ch); i >= 0 {
			p.waiters = slices.Delete(p.waiters, i, i+1)
			p.mu.Unlock()
			return nil, err
		}
		p.mu.Unlock()
		<-ch // handed a slot meanwhile: pass it on
		p.release(nil)
		return nil, err
	}
	p.mu.Lock()
	v := p.pop()
	p.mu.Unlock()
	if v != nil {
		return v, nil
	}
	return p.make()
}

// pop takes an idle state, or nil. p.mu is held.
func (p *pool) pop() *vm {
	n := len(p.idle)
	if n == 0 {
		return nil
	}
	v := p.idle[n-1]
	p.idle = p.idle[:n-1]
	return v
}

// make opens a state for a call that holds a slot.
func (p *pool) make() (*vm, error) {
	e := p.ver.e
	if e.closed.Load() {
		p.release(nil)
		return nil, ErrClosed
	}
	v, ret, err := newVM(p.ver)
	if err == nil {
		if err = v.bind(p.ver.list, ret); err != nil {
			v.close()
		}
	}
	if err != nil {
		p.release(nil)
		return nil, err
	}
	e.states.Add(1)
	return v, nil
}

// put returns v, closing it when its run hit a limit, when it keeps too much between
// calls, or when the version has been retired; it frees the slot.
func (p *pool) put(v *vm, err error) {
	keep := err == nil || !fatal(err)
	if keep && v.runs%retainedEvery == 0 {
		if lim := p.ver.e.cfg.loadMemory; v.retained(lim) > lim {
			p.ver.e.stats.recycled.Add(1)
			keep = false
		}
	}
	if !keep {
		v = p.closed(v)
	}
	p.release(v)
}

// release frees a slot, keeping v (if not nil) as an idle state: the slot goes to the
// first waiter, if any.
func (p *pool) release(v *vm) {
	p.mu.Lock()
	if v != nil && p.retired {
		p.mu.Unlock()
		v = p.closed(v)
		p.mu.Lock()
	}
	if v != nil {
		p.idle = append(p.idle, v)
	}
	if len(p.waiters) > 0 {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		ch <- struct{}{} // the slot stays taken, by the waiter now
	} else {
		p.busy--
	}
	p.mu.Unlock()
}

// closed closes v and returns nil.
func (p *pool) closed(v *vm) *vm {
	v.close()
	p.ver.e.states.Add(-1)
	return nil
}

// retire takes the version out of service: idle states are closed now, states in use
// when they are returned.
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	idle := p.idle
	p.idle = nil
	p.mu.Unlock()
	for _, v := range idle {
		p.closed(v)
	}
}

package luapolicy

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
// The fast path takes no lock: slots are an atomic count, idle states sit in PoolSize
// atomic cells (a cell is swapped, so a state is never handed out twice, where a linked
// stack of reused states would suffer ABA). Only waiting takes the mutex. With a mutex on
// every get and put, a parallel key function measured 1.55x a bare gopher-lua call; with
// this fast path, 1.49x (docs/benchmarks.md).
type pool struct {
	ver  *version
	size int32
	busy atomic.Int32 // slots taken
	idle []atomic.Pointer[vm]

	nwait   atomic.Int32 // waiters registered (under mu)
	mu      sync.Mutex   // protects waiters
	waiters []chan struct{}
	retired atomic.Bool // no longer live: states are closed when returned
}

func (p *pool) init(ver *version) {
	p.ver = ver
	p.size = int32(ver.e.cfg.poolSize)
	p.idle = make([]atomic.Pointer[vm], p.size)
}

// seed adds states that have run the top level, closing those the pool has no room for.
func (p *pool) seed(vs ...*vm) {
	for _, v := range vs {
		if !p.push(v) {
			v.close()
			continue
		}
		p.ver.e.states.Add(1)
	}
}

// acquire takes a slot if one is free.
func (p *pool) acquire() bool {
	for {
		b := p.busy.Load()
		if b >= p.size {
			return false
		}
		if p.busy.CompareAndSwap(b, b+1) {
			return true
		}
	}
}

// get takes a slot and a state for one run.
func (p *pool) get(ctx context.Context) (*vm, error) {
	e := p.ver.e
	if e.closed.Load() {
		return nil, ErrClosed
	}
	if !p.acquire() {
		if err := p.wait(ctx); err != nil {
			return nil, err
		}
	}
	if v := p.pop(); v != nil {
		return v, nil
	}
	return p.make()
}

// wait queues for a slot, up to poolWait call timeouts.
func (p *pool) wait(ctx context.Context) error {
	p.mu.Lock()
	p.nwait.Add(1)
	// Registered first, then checked: a release either sees the registration or frees
	// the slot before this check (see release).
	if p.acquire() {
		p.nwait.Add(-1)
		p.mu.Unlock()
		return nil
	}
	ch := make(chan struct{}, 1)
	p.waiters = append(p.waiters, ch)
	p.mu.Unlock()

	wait := poolWait * p.ver.e.cfg.callTimeout
	t := time.NewTimer(wait)
	defer t.Stop()
	var err error
	select {
	case <-ch:
		return nil
	case <-t.C:
		err = fmt.Errorf("%w: all %d Lua states busy for %v", ErrTimeout, p.size, wait)
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.mu.Lock()
	if i := slices.Index(p.waiters, ch); i >= 0 {
		p.waiters = slices.Delete(p.waiters, i, i+1)
		p.nwait.Add(-1)
		p.mu.Unlock()
		return err
	}
	p.mu.Unlock()
	<-ch // handed a slot meanwhile: pass it on
	p.release(nil)
	return err
}

// pop takes an idle state, or nil.
func (p *pool) pop() *vm {
	for i := range p.idle {
		if v := p.idle[i].Swap(nil); v != nil {
			return v
		}
	}
	return nil
}

// push keeps v idle; false when every cell is full.
func (p *pool) push(v *vm) bool {
	for i := range p.idle {
		if p.idle[i].CompareAndSwap(nil, v) {
			return true
		}
	}
	return false
}

// make opens a state for a call that holds a slot.
func (p *pool) make() (*vm, error) {
	e := p.ver.e
	if e.closed.Load() {
		p.release(nil)
		return nil, ErrClosed
	}
	v, err := newBoundVM(p.ver)
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

// release frees a slot, keeping v (if not nil) as an idle state, and hands a slot to the
// first waiter if there is one.
func (p *pool) release(v *vm) {
	if v != nil {
		if p.retired.Load() || !p.push(v) {
			p.closed(v)
		} else if p.retired.Load() {
			p.drain() // retired while v was being returned
		}
	}
	p.busy.Add(-1)
	if p.nwait.Load() == 0 {
		return
	}
	p.mu.Lock()
	if len(p.waiters) > 0 && p.acquire() {
		ch := p.waiters[0]
		p.waiters = p.waiters[1:]
		p.nwait.Add(-1)
		ch <- struct{}{} // the slot is the waiter's now
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
	p.retired.Store(true)
	p.drain()
}

func (p *pool) drain() {
	for v := p.pop(); v != nil; v = p.pop() {
		p.closed(v)
	}
}

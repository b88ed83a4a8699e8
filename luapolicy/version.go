package luapolicy

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
	lua "github.com/yuin/gopher-lua"
)

// version is one loaded script: its policies, compiled once, and the pool of states its
// per-call functions run on. A version is immutable once live; a reload swaps in a new
// one, and the old one's states are closed as the calls that hold them finish.
type version struct {
	e       *Engine
	seq     uint64
	script  *script
	list    []*policy          // by index
	byName  map[string]*policy // without the default
	star    *policy            // the "*" policy, or nil
	idle    chan *vm           // states ready for a call
	made    atomic.Int64       // states open: idle or in use
	retired atomic.Bool        // no longer live: states are closed when returned
}

// build compiles src into a version and self-checks it: the top level runs in a fresh
// state under the load budget, every policy's settings are validated and every example
// passes. The first state becomes the pool's first.
func (e *Engine) build(name string, src []byte, old *version) (*version, error) {
	s, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	ver := &version{e: e, script: s, idle: make(chan *vm, e.cfg.poolSize)}
	first, ret, err := newVM(ver)
	if err != nil {
		return nil, err
	}
	e.states.Add(1)
	ver.made.Store(1)
	fail := func(err error) (*version, error) {
		ver.discard(first)
		ver.retire() // and any state already pooled
		return nil, err
	}
	if ver.list, err = parsePolicies(s, ret); err != nil {
		return fail(err)
	}
	if err := first.bind(ver.list, ret); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrRejected, err))
	}
	// A second state must build the same policies: a top level that depends on chance
	// (tostring of a table, say) is rejected now instead of failing calls later.
	second, ret2, err := newVM(ver)
	if err == nil {
		if err = second.bind(ver.list, ret2); err != nil {
			second.close()
		}
	}
	if err != nil {
		return fail(fmt.Errorf("%w: a second run of the top level: %w", ErrRejected, err))
	}
	e.states.Add(1)
	ver.made.Add(1)
	if e.cfg.poolSize > 1 {
		ver.idle <- second
	} else {
		ver.discard(second)
	}
	ver.byName = make(map[string]*policy, len(ver.list))
	for _, p := range ver.list {
		for _, ex := range p.ex {
			if err := ex.check(first, p); err != nil {
				return fail(err)
			}
		}
		ver.bindRules(p, old)
		if p.name == "*" {
			ver.star = p
		} else {
			ver.byName[p.name] = p
		}
	}
	ver.idle <- first
	return ver, nil
}

// bindRules gives p's Rules its per-call hooks, or keeps the previous version's Rules
// when p is static and unchanged: the engine keys in-process entries by the Rules
// pointer, so a reload that leaves a function's policy alone keeps its entries.
func (ver *version) bindRules(p *policy, old *version) {
	if !p.key && !p.bypass && !p.ttl && old != nil {
		prev := old.byName[p.name]
		if p.name == "*" {
			prev = old.star
		}
		if prev != nil && !prev.key && !prev.bypass && !prev.ttl && prev.sig == p.sig && prev.rules.Bypass == p.rules.Bypass {
			p.rules = prev.rules
			return
		}
	}
	if p.key || p.bypass {
		p.rules.Decide = func(ctx context.Context, c cached.Call) (cached.Decision, error) {
			return ver.decide(ctx, p, c)
		}
	}
	if p.ttl {
		p.rules.TTL = func(ctx context.Context, c cached.Call, value any) (time.Duration, error) {
			return ver.ttl(ctx, p, c, value)
		}
	}
}

func (ver *version) decide(ctx context.Context, p *policy, c cached.Call) (d cached.Decision, err error) {
	v, err := ver.get(ctx)
	if err != nil {
		ver.e.stats.record(err, -1)
		return d, err
	}
	t0 := v.timed()
	call, err := v.prepare(ctx, p, c)
	fs := v.fns[p.idx]
	if err == nil && fs.bypass != nil {
		d.Bypass, err = v.bypassOf(fs.bypass, call)
	}
	if err == nil && !d.Bypass && fs.key != nil {
		d.Key, err = v.keyOf(fs.key, call)
	}
	ver.done(v, t0, err)
	return d, err
}

func (ver *version) ttl(ctx context.Context, p *policy, c cached.Call, value any) (time.Duration, error) {
	v, err := ver.get(ctx)
	if err != nil {
		ver.e.stats.record(err, -1)
		return 0, err
	}
	t0 := v.timed()
	var d time.Duration
	call, err := v.prepare(ctx, p, c)
	if err == nil {
		var lv lua.LValue
		if lv, err = v.conv(p).value(value, 0); err == nil {
			d, err = v.ttlOf(v.fns[p.idx].ttl, call, lv)
		}
	}
	ver.done(v, t0, err)
	return d, err
}

// done returns v to the pool (or closes it) and records the run.
func (ver *version) done(v *vm, t0 int64, err error) {
	var took int64 = -1
	if t0 != 0 {
		took = mono() - t0
	}
	v.m.parent = nil
	ver.put(v, err)
	ver.e.stats.record(err, took)
	if err != nil {
		ver.e.logFailure(err)
	}
}

// poolWait bounds, in call timeouts, how long a call waits for a state when all are busy.
// Runs are bounded by the call timeout, so the queue drains; falling back early would
// change the call's key under load, which costs a miss and a write under another key.
const poolWait = 100

// get takes an idle state, makes one if the pool is below its bound, or waits for one,
// up to poolWait call timeouts.
func (ver *version) get(ctx context.Context) (*vm, error) {
	select {
	case v := <-ver.idle:
		return v, nil
	default:
	}
	if ver.e.closed.Load() {
		return nil, ErrClosed
	}
	if ver.made.Add(1) <= int64(ver.e.cfg.poolSize) {
		v, ret, err := newVM(ver)
		if err == nil {
			if err = v.bind(ver.list, ret); err != nil {
				v.close()
			}
		}
		if err != nil {
			ver.made.Add(-1)
			return nil, err
		}
		ver.e.states.Add(1)
		return v, nil
	}
	ver.made.Add(-1)
	wait := poolWait * ver.e.cfg.callTimeout
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case v := <-ver.idle:
		return v, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: all %d Lua states busy for %v", ErrTimeout, ver.e.cfg.poolSize, wait)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns v to the pool, or closes it when its run hit a limit or the version has
// been retired.
func (ver *version) put(v *vm, err error) {
	if (err != nil && fatal(err)) || ver.retired.Load() {
		ver.discard(v)
		return
	}
	if v.runs%retainedEvery == 0 {
		if lim := ver.e.cfg.loadMemory; v.retained(lim) > lim {
			ver.e.stats.recycled.Add(1)
			ver.discard(v)
			return
		}
	}
	ver.idle <- v // never blocks: at most poolSize states exist
	if ver.retired.Load() {
		ver.drain() // retired while v was being returned
	}
}

func (ver *version) discard(v *vm) {
	v.close()
	ver.made.Add(-1)
	ver.e.states.Add(-1)
}

// retire takes the version out of service: idle states are closed now, states in use
// when they are returned.
func (ver *version) retire() {
	ver.retired.Store(true)
	ver.drain()
}

func (ver *version) drain() {
	for {
		select {
		case v := <-ver.idle:
			ver.discard(v)
		default:
			return
		}
	}
}

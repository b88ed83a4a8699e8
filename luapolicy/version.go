package luapolicy

import (
	"context"
	"fmt"
	"time"

	"github.com/cachedgo/cached"
	lua "github.com/yuin/gopher-lua"
)

// version is one loaded script: its policies, compiled once, and the pool of states its
// per-call functions run on. A version is immutable once live; a reload swaps in a new
// one, and the old one's states are closed as the calls that hold them finish.
type version struct {
	e      *Engine
	seq    uint64
	script *script
	list   []*policy          // by index
	byName map[string]*policy // without the default
	star   *policy            // the "*" policy, or nil
	pool   pool
	until  int64 // mono() deadline of the load while build runs, then 0
}

// loadLimit is the time a top-level run or an example may take: LoadTimeout, or what is
// left of the load's while it is being built.
func (ver *version) loadLimit() time.Duration {
	d := ver.e.cfg.loadTimeout
	if ver.until != 0 {
		d = min(d, time.Duration(ver.until-mono()))
	}
	return max(d, 1)
}

// build compiles src into a version and self-checks it: the top level runs in two fresh
// states under the load budget and must build the same policies, every policy's settings
// are validated and every example passes. Both states then seed the pool.
func (e *Engine) build(name string, src []byte, old *version) (*version, error) {
	s, err := compile(name, src)
	if err != nil {
		return nil, err
	}
	// One deadline for the whole load: both top-level runs and every example.
	ver := &version{e: e, script: s, until: mono() + int64(e.cfg.loadTimeout)}
	defer func() { ver.until = 0 }()
	ver.pool.init(ver)
	var states []*vm
	fail := func(err error) (*version, error) {
		for _, v := range states {
			v.close()
		}
		return nil, err
	}
	first, ret, err := newVM(ver)
	if err != nil {
		return nil, err
	}
	states = append(states, first)
	if ver.list, err = parsePolicies(s, ret); err != nil {
		return fail(err)
	}
	if err := first.bind(ver.list, ret); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrRejected, err))
	}
	// A second state must build the same policies: a top level that depends on chance
	// (tostring of a table, say) is rejected now instead of failing calls later.
	second, err := newBoundVM(ver)
	if err != nil {
		return fail(fmt.Errorf("%w: a second run of the top level: %w", ErrRejected, err))
	}
	states = append(states, second)
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
	ver.pool.seed(states...)
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
	v, err := ver.pool.get(ctx)
	if err != nil {
		ver.e.stats.record(0, err, -1)
		return d, err
	}
	call, err := v.prepare(ctx, p, c)
	fs := v.fns[p.idx]
	if err == nil && fs.bypass != nil {
		d.Bypass, err = v.bypassOf(fs.bypass, call)
	}
	if err == nil && !d.Bypass && fs.key != nil {
		d.Key, err = v.keyOf(fs.key, call)
	}
	ver.done(v, err)
	return d, err
}

func (ver *version) ttl(ctx context.Context, p *policy, c cached.Call, value any) (time.Duration, error) {
	v, err := ver.pool.get(ctx)
	if err != nil {
		ver.e.stats.record(0, err, -1)
		return 0, err
	}
	var d time.Duration
	call, err := v.prepare(ctx, p, c)
	if err == nil {
		var lv lua.LValue
		if lv, err = v.conv(p).value(value, 0); err == nil {
			d, err = v.ttlOf(v.fns[p.idx].ttl, call, lv)
		}
	}
	ver.done(v, err)
	return d, err
}

// done ends a run: it returns v to the pool (or closes it) and records the run.
func (ver *version) done(v *vm, err error) {
	took := v.m.finish()
	v.m.parent = nil
	v.runs++
	ver.pool.put(v, err)
	ver.e.stats.record(v.stripe, err, int64(took))
	if err != nil {
		ver.e.logFailure(err)
	}
}

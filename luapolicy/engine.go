package luapolicy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// Engine is a [cached.Policy] read from a Lua script. Build one with [Load] or
// [LoadString]; pass it to [cached.WithPolicy]; keep it current with [Engine.Watch] or
// [Engine.WatchEtcd]; [Engine.Close] it when done.
//
// Each load compiles the script once and self-checks it in a fresh Lua state before it
// goes live with one atomic swap; calls that started on the previous version finish on it.
// Static settings are compiled into Go values at load, so a function whose policy has no
// per-call function runs no Lua at all.
//
// An Engine is safe for concurrent use.
type Engine struct {
	cfg    config
	path   string // the file Load read, or ""
	live   atomic.Pointer[version]
	gen    atomic.Uint64 // incremented after each swap (cached.PolicyGeneration)
	closed atomic.Bool
	done   chan struct{} // closed by Close
	states atomic.Int64  // Lua states open, all versions
	fields sync.Map      // reflect.Type → []field
	stats  counters

	mu  sync.Mutex // serializes reloads; protects seq
	seq uint64

	errMu   sync.Mutex // protects lastErr (not mu: Stats must not wait for a reload)
	lastErr error
	logged  atomic.Int64 // when a per-call failure was last logged
}

// Load reads the policy script at path, compiles and self-checks it, and returns an
// Engine serving it. An error wraps [ErrRejected] and says where the script is wrong
// (file:line) when the script is at fault.
func Load(path string, opts ...Option) (*Engine, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("luapolicy: %w", err)
	}
	e := newEngine(opts)
	e.path = path
	if err := e.reload(path, src); err != nil {
		return nil, err
	}
	return e, nil
}

// LoadString is [Load] for a script held in memory; name is the chunk name errors give.
func LoadString(name, src string, opts ...Option) (*Engine, error) {
	e := newEngine(opts)
	if err := e.reload(name, []byte(src)); err != nil {
		return nil, err
	}
	return e, nil
}

func newEngine(opts []Option) *Engine {
	e := &Engine{cfg: defaultConfig(), done: make(chan struct{})}
	for _, o := range opts {
		o(&e.cfg)
	}
	return e
}

// Rules returns the live version's rules for the named function: its own policy, else
// the "*" policy, else nil (the function's options apply). It is an atomic load and a
// map lookup.
func (e *Engine) Rules(name string) *cached.Rules {
	v := e.live.Load()
	if p := v.byName[name]; p != nil {
		return p.rules
	}
	if v.star != nil {
		return v.star.rules
	}
	return nil
}

// Generation implements [cached.PolicyGeneration]: functions re-read their rules only
// after a reload, so a static policy costs the hit path two atomic loads.
func (e *Engine) Generation() *atomic.Uint64 { return &e.gen }

var _ cached.PolicyGeneration = (*Engine)(nil)

// reload builds a version from src and swaps it in, unless its checksum is the live
// version's. A rejected version leaves the live one in place. OnReload is called after
// the swap, outside the Engine's lock, so it may call Stats.
func (e *Engine) reload(name string, src []byte) error {
	r, changed := e.swap(name, src)
	if changed && e.cfg.onReload != nil {
		e.cfg.onReload(r)
	}
	return r.Err
}

func (e *Engine) swap(name string, src []byte) (r Reload, changed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Load() {
		return Reload{Source: name, Err: ErrClosed}, false
	}
	old := e.live.Load()
	sum := checksum(src)
	if old != nil && old.script.sum == sum {
		// Nothing to load. After a rejected version this is a revert: say so, since the
		// rejection was reported.
		r = Reload{Source: name, Version: e.seq, Checksum: sum}
		return r, e.setLastErr(nil) != nil
	}
	start := time.Now()
	ver, err := e.build(name, src, old)
	r = Reload{Source: name, Checksum: sum, Err: err}
	if err != nil {
		e.stats.reloadsFailed.Add(1)
		e.setLastErr(err)
		r.Version = e.seq
		if l := e.cfg.logger; l != nil && old != nil {
			l.Warn("luapolicy: reload rejected; the previous version stays live", "source", name, "version", e.seq, "err", err)
		}
		return r, true
	}
	e.seq++
	ver.seq = e.seq
	e.live.Store(ver)
	e.gen.Add(1) // after the store: see cached.PolicyGeneration
	e.setLastErr(nil)
	e.stats.reloads.Add(1)
	r.Version = ver.seq
	if old != nil {
		old.pool.retire()
	}
	if l := e.cfg.logger; l != nil {
		l.Info("luapolicy: version live", "source", name, "version", ver.seq, "checksum", sum[:12], "policies", len(ver.list), "took", time.Since(start))
	}
	return r, true
}

// Close retires the live version: its Lua states are closed (those in use when their
// call returns) and Watch and WatchEtcd return. The static settings stay in force; a
// per-call function called after Close fails with [ErrClosed], so the call falls back
// to the function's own options. Close is idempotent.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed.Swap(true) {
		return nil
	}
	close(e.done)
	e.live.Load().pool.retire()
	return nil
}

// logFailure logs a per-call failure, at most once a second.
func (e *Engine) logFailure(err error) {
	l := e.cfg.logger
	if l == nil || errors.Is(err, context.Canceled) {
		return
	}
	now := mono()
	last := e.logged.Load()
	if now-last < int64(time.Second) || !e.logged.CompareAndSwap(last, now) {
		return
	}
	l.Warn("luapolicy: a per-call function failed; the call used the function's own options", "err", err)
}

// setLastErr records the outcome of the last reload attempt and returns the previous one.
func (e *Engine) setLastErr(err error) error {
	e.errMu.Lock()
	defer e.errMu.Unlock()
	prev := e.lastErr
	e.lastErr = err
	return prev
}

package middleware

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/cachedgo/cached"
)

// policyView is the Cache's Policy as the routes' cached functions see it. The middleware
// consults the Policy itself, with the *http.Request as the call's argument: it asks
// Rules.Decide for the key and bypass before it builds the key, and Rules.TTL when a
// response says nothing about its freshness. So the engine must not call them again with
// the key string as the argument; it gets the same rules without those hooks, and keeps
// their Options (the lock, the version, the load timeout) and the policy's generations.
type policyView struct {
	p       cached.Policy
	gen     *atomic.Uint64 // the Policy's generation counter, nil when it has none
	mu      sync.Mutex
	derived map[string]derivedRules
}

type derivedRules struct{ from, to *cached.Rules }

func policyOf(c *cached.Cache) *policyView {
	p := c.Policy()
	if p == nil {
		return nil
	}
	v := &policyView{p: p, derived: map[string]derivedRules{}}
	if g, ok := p.(cached.PolicyGeneration); ok {
		v.gen = g.Generation()
	}
	return v
}

// Rules returns the Policy's rules for name without Decide, TTL and Bypass: the same
// pointer for as long as the Policy returns the same rules.
func (v *policyView) Rules(name string) *cached.Rules {
	r := v.p.Rules(name)
	if r == nil {
		return nil
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if d, ok := v.derived[name]; ok && d.from == r {
		return d.to
	}
	// EarlyRefresh stays off: a refresh of a fresh hit would need the request after it
	// was served (see request.detach).
	// The jitter stays the middleware's, which only shortens a TTL: a response is never
	// kept past what its Cache-Control allows, and the copy of a request a background
	// refresh needs is made while the response is in the last tenth of its TTL.
	opts := append(slices.Clip(r.Options), cached.EarlyRefresh(0), cached.Jitter(shrink))
	d := derivedRules{from: r, to: &cached.Rules{Options: opts}}
	v.derived[name] = d
	return d.to
}

// generationView is a policyView whose Policy has generations.
type generationView struct{ *policyView }

// Generation returns the Policy's own counter.
func (g generationView) Generation() *atomic.Uint64 { return g.gen }

// engine returns the view to give the cached functions.
func (v *policyView) engine() cached.Policy {
	if v.gen != nil {
		return generationView{v}
	}
	return v
}

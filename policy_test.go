package cached_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// mapPolicy serves Rules from an atomically swapped map, as a hot-reloading policy does.
type mapPolicy struct {
	rules atomic.Pointer[map[string]*cached.Rules]
}

func (p *mapPolicy) set(m map[string]*cached.Rules) { p.rules.Store(&m) }

func (p *mapPolicy) Rules(name string) *cached.Rules {
	if m := p.rules.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

func TestPolicyRulesOverrideOptions(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &mapPolicy{}
		p.set(map[string]*cached.Rules{"user": {Options: []cached.Option{cached.TTL(10 * time.Second)}}})
		c := cached.New(cached.WithPolicy(p), cached.TTL(time.Hour), cached.Jitter(nil))
		defer c.Close()
		l := countingLoader(func(_ context.Context, id int) (int, error) { return id, nil })
		get := cached.Wrap(c, "user", l.load)
		ctx := context.Background()
		get(ctx, 1)
		time.Sleep(11 * time.Second)
		get(ctx, 1)
		if n := l.calls.Load(); n != 2 {
			t.Errorf("loads = %d; want 2: the policy's 10s TTL applies", n)
		}
		// New rules are a new generation: entries stored under the old ones are not served.
		p.set(map[string]*cached.Rules{"user": {Options: []cached.Option{cached.TTL(time.Hour)}}})
		get(ctx, 1)
		if n := l.calls.Load(); n != 3 {
			t.Errorf("loads after new rules = %d; want 3", n)
		}
	})
}

func TestPolicyBypassAndDecide(t *testing.T) {
	p := &mapPolicy{}
	c := newCache(t, cached.WithPolicy(p), cached.WithStore(newMemStore()))
	l := countingLoader(func(_ context.Context, email string) (string, error) { return strings.ToLower(email), nil })
	get := cached.Wrap(c, "by-email", l.load)
	ctx := context.Background()

	p.set(map[string]*cached.Rules{"by-email": {Bypass: true}})
	get(ctx, "A@x")
	get(ctx, "A@x")
	if n := l.calls.Load(); n != 2 {
		t.Errorf("bypass: loads = %d; want 2", n)
	}
	var seen []cached.Call
	p.set(map[string]*cached.Rules{"by-email": {Decide: func(_ context.Context, call cached.Call) (cached.Decision, error) {
		seen = append(seen, call)
		return cached.Decision{Key: strings.ToLower(call.Key), Bypass: call.Key == "nocache"}, nil
	}}})
	get(ctx, "B@x")
	get(ctx, "b@x") // another argument, the same key in the store
	get(ctx, "nocache")
	get(ctx, "nocache")
	if n := l.calls.Load(); n != 5 {
		t.Errorf("decide: loads = %d; want 5 (b@x from the store, nocache bypassed twice)", n)
	}
	if len(seen) != 4 || seen[0].Func != "by-email" || seen[0].Key != "B@x" || seen[0].Args[0] != "B@x" {
		t.Errorf("Decide saw %+v; want the function, key and arguments", seen)
	}
}

func TestPolicyTTLFromValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := &mapPolicy{}
		p.set(map[string]*cached.Rules{"token": {TTL: func(_ context.Context, _ cached.Call, v any) (time.Duration, error) {
			return time.Duration(v.(int)) * time.Second, nil // the value says how long it lives
		}}})
		c := cached.New(cached.WithPolicy(p), cached.Jitter(nil))
		defer c.Close()
		l := countingLoader(func(_ context.Context, k int) (int, error) { return k, nil })
		get := cached.Wrap(c, "token", l.load)
		ctx := context.Background()
		get(ctx, 5)
		get(ctx, 50)
		time.Sleep(10 * time.Second)
		get(ctx, 5)
		get(ctx, 50)
		if n := l.calls.Load(); n != 3 {
			t.Errorf("loads = %d; want 3: the 5s value expired, the 50s one did not", n)
		}
	})
}

// genPolicy is a mapPolicy with a generation counter that counts its Rules calls.
type genPolicy struct {
	mapPolicy
	gen   atomic.Uint64
	calls atomic.Int64
}

func (p *genPolicy) Generation() *atomic.Uint64 { return &p.gen }

func (p *genPolicy) Rules(name string) *cached.Rules {
	p.calls.Add(1)
	return p.mapPolicy.Rules(name)
}

func TestPolicyGenerationReadsRulesOncePerGeneration(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules map[string]*cached.Rules
	}{
		{"rules", map[string]*cached.Rules{"user": {Options: []cached.Option{cached.TTL(time.Hour)}}}},
		{"no rules for the function", map[string]*cached.Rules{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &genPolicy{}
			p.set(tc.rules)
			c := newCache(t, cached.WithPolicy(p))
			l := countingLoader(func(_ context.Context, id int) (int, error) { return id, nil })
			get := cached.Wrap(c, "user", l.load)
			ctx := context.Background()
			for range 100 {
				get(ctx, 1)
			}
			if n := p.calls.Load(); n != 1 {
				t.Errorf("Rules calls over 100 calls in one generation = %d; want 1", n)
			}
			if n := l.calls.Load(); n != 1 {
				t.Errorf("loads = %d; want 1", n)
			}

			// New rules take effect after the increment, and not before: the contract
			// lets the engine skip Rules while the generation stands.
			p.set(map[string]*cached.Rules{"user": {Bypass: true}})
			get(ctx, 1)
			if n := l.calls.Load(); n != 1 {
				t.Errorf("loads before the increment = %d; want 1 (rules re-read only on a new generation)", n)
			}
			p.gen.Add(1)
			get(ctx, 1)
			get(ctx, 1)
			if n := l.calls.Load(); n != 3 {
				t.Errorf("loads after the increment = %d; want 3 (bypass in force)", n)
			}
			if n := p.calls.Load(); n != 2 {
				t.Errorf("Rules calls after one increment = %d; want 2", n)
			}
		})
	}
}

func TestPolicyGenerationKeepsEntriesOfUnchangedRules(t *testing.T) {
	// A new generation that returns the same *Rules keeps the entries stored under them.
	p := &genPolicy{}
	r := &cached.Rules{Options: []cached.Option{cached.TTL(time.Hour)}}
	p.set(map[string]*cached.Rules{"user": r})
	c := newCache(t, cached.WithPolicy(p))
	l := countingLoader(func(_ context.Context, id int) (int, error) { return id, nil })
	get := cached.Wrap(c, "user", l.load)
	ctx := context.Background()
	get(ctx, 1)
	p.set(map[string]*cached.Rules{"user": r, "other": {Bypass: true}})
	p.gen.Add(1)
	get(ctx, 1)
	if n := l.calls.Load(); n != 1 {
		t.Errorf("loads = %d; want 1: the function's rules did not change", n)
	}
}

func TestPolicyTTLToldTheKey(t *testing.T) {
	// With no Store, Locker, Guard or Decide nothing else builds the key: the TTL hook
	// must still be told it.
	p := &mapPolicy{}
	keys := make(chan string, 1)
	p.set(map[string]*cached.Rules{"user": {TTL: func(_ context.Context, c cached.Call, _ any) (time.Duration, error) {
		keys <- c.Key
		return 0, nil
	}}})
	c := newCache(t, cached.WithPolicy(p))
	cached.Wrap(c, "user", func(_ context.Context, id int) (int, error) { return id, nil })(context.Background(), 42)
	if k := <-keys; k != "42" {
		t.Errorf("Call.Key = %q; want 42", k)
	}
}

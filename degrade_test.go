package cached_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// failingPolicy's Decide fails.
type failingPolicy struct{ rules *cached.Rules }

func newFailingPolicy() failingPolicy {
	return failingPolicy{rules: &cached.Rules{Decide: func(context.Context, cached.Call) (cached.Decision, error) {
		return cached.Decision{}, errors.New("script error")
	}}}
}

func (p failingPolicy) Rules(string) *cached.Rules { return p.rules }

// TestPluginFailureFallbacks: when a Store, Locker or Policy fails, the call loads (fail
// open, the default), returns the error (fail closed) or serves stale, as OnFailure (Store,
// Policy) or LockFallback (Locker) says, and the failure is counted and logged.
func TestPluginFailureFallbacks(t *testing.T) {
	plugins := []struct {
		name     string
		opts     func() (cached.Option, func(bool)) // the plug-in, and a switch to make it fail
		sentinel error
		counter  func(cached.FuncStats) uint64
		decide   func(cached.Fallback) cached.Option
	}{
		{"store", func() (cached.Option, func(bool)) {
			s := newMemStore()
			return cached.WithStore(s), func(on bool) {
				if on {
					s.setFail(errDown)
				} else {
					s.setFail(nil)
				}
			}
		}, cached.ErrStore, func(s cached.FuncStats) uint64 { return s.StoreErrors }, cached.OnFailure},
		{"locker", func() (cached.Option, func(bool)) {
			l := &switchLocker{}
			return cached.WithLocker(l), func(on bool) { l.fail = on }
		}, cached.ErrLock, func(s cached.FuncStats) uint64 { return s.LockErrors }, cached.LockFallback},
		{"policy", func() (cached.Option, func(bool)) {
			p := &switchPolicy{failing: newFailingPolicy()}
			return cached.WithPolicy(p), func(on bool) { p.fail = on }
		}, cached.ErrPolicy, func(s cached.FuncStats) uint64 { return s.PolicyErrors }, cached.OnFailure},
	}
	for _, p := range plugins {
		for _, fb := range []cached.Fallback{cached.FailOpen, cached.FailClosed, cached.FailStale} {
			t.Run(p.name+"/"+fallbackName(fb), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var logs bytes.Buffer
					plug, setFail := p.opts()
					c := cached.New(plug, p.decide(fb), cached.TTL(time.Minute), cached.Jitter(nil),
						cached.StaleIfError(time.Hour), cached.LocalTTL(0),
						cached.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
					defer c.Close()
					n := 0
					get := cached.Wrap(c, "user", func(context.Context, int) (int, error) { n++; return n, nil })
					ctx := context.Background()
					if v, err := get(ctx, 1); v != 1 || err != nil {
						t.Fatalf("healthy: got %d, %v", v, err)
					}
					time.Sleep(2 * time.Minute) // expired, stale within StaleIfError
					setFail(true)
					v, err := get(ctx, 1)
					switch fb {
					case cached.FailOpen:
						if v != 2 || err != nil {
							t.Errorf("fail open: got %d, %v; want a load, 2", v, err)
						}
					case cached.FailClosed:
						if !errors.Is(err, p.sentinel) {
							t.Errorf("fail closed: err = %v; want %v", err, p.sentinel)
						}
					case cached.FailStale:
						if v != 1 || err != nil {
							t.Errorf("fail stale: got %d, %v; want the stale 1", v, err)
						}
					}
					if got := p.counter(c.Stats().Funcs["user"]); got == 0 {
						t.Errorf("failure not counted")
					}
					if !strings.Contains(logs.String(), "plug-in failed") {
						t.Errorf("failure not logged: %q", logs.String())
					}
				})
			})
		}
	}
}

func fallbackName(f cached.Fallback) string {
	return [...]string{"open", "closed", "stale"}[f]
}

// switchLocker is a working in-process Locker whose Lock fails while fail is set.
type switchLocker struct{ fail bool }

func (l *switchLocker) Lock(ctx context.Context, key string) (cached.Unlocker, error) {
	if l.fail {
		return nil, errDown
	}
	return noopUnlocker{}, nil
}

type noopUnlocker struct{}

func (noopUnlocker) Unlock(context.Context) error { return nil }
func (noopUnlocker) Fence() uint64                { return 0 }

type switchPolicy struct {
	fail    bool
	failing failingPolicy
}

func (p *switchPolicy) Rules(name string) *cached.Rules {
	if p.fail {
		return p.failing.Rules(name)
	}
	return nil
}

// TestStoreDownStillServes: with the default fallback a dead store never breaks the call.
func TestStoreDownStillServes(t *testing.T) {
	s := newMemStore()
	s.setFail(errDown)
	c := newCache(t, cached.WithStore(s), quiet)
	get := cached.Wrap(c, "user", func(_ context.Context, id int64) (user, error) { return user{ID: id}, nil })
	for i := range int64(5) {
		if u, err := get(context.Background(), i); err != nil || u.ID != i {
			t.Fatalf("got %v, %v; want the loaded value", u, err)
		}
	}
	st := c.Stats().Funcs["user"]
	if st.StoreErrors == 0 || st.Loads != 5 {
		t.Errorf("stats = %+v; want store errors counted and 5 loads", st)
	}
}

// TestCorruptStoreValueIsMiss: a value the codec cannot read is a miss, deleted and
// counted, never an error.
func TestCorruptStoreValueIsMiss(t *testing.T) {
	s := newMemStore()
	s.Set(context.Background(), ":user::1", cached.Item{Value: []byte("{not json"), Fresh: time.Now().Add(time.Hour)}, time.Hour)
	c := newCache(t, cached.WithStore(s), quiet)
	get := cached.Wrap(c, "user", func(_ context.Context, id int64) (user, error) { return user{ID: id}, nil })
	if u, err := get(context.Background(), 1); err != nil || u.ID != 1 {
		t.Fatalf("got %v, %v; want a load", u, err)
	}
	if st := c.Stats().Funcs["user"]; st.CodecErrors != 1 {
		t.Errorf("CodecErrors = %d; want 1", st.CodecErrors)
	}
	if m, _ := s.item(":user::1"); !bytes.Contains(m.it.Value, []byte(`"ID":1`)) {
		t.Errorf("store holds %q; want the corrupt value replaced", m.it.Value)
	}
}

// TestLockerDoubleCheck: after taking the lock the engine reads the store again and does
// not load when another instance stored the key meanwhile.
func TestLockerDoubleCheck(t *testing.T) {
	s := newMemStore()
	other := cached.New(cached.WithStore(s))
	defer other.Close()
	otherGet := cached.Wrap(other, "user", func(_ context.Context, id int64) (user, error) { return user{ID: id, Name: "other"}, nil })
	// The lock is held by "another instance" that stores the value before releasing it.
	l := &handOffLocker{before: func() { otherGet(context.Background(), 1) }}
	c := newCache(t, cached.WithStore(s), cached.WithLocker(l))
	loads := 0
	get := cached.Wrap(c, "user", func(_ context.Context, id int64) (user, error) { loads++; return user{ID: id}, nil })
	u, err := get(context.Background(), 1)
	if err != nil || u.Name != "other" || loads != 0 {
		t.Errorf("got %v, %v with %d loads; want the other instance's value and no load", u, err, loads)
	}
}

type handOffLocker struct{ before func() }

func (l *handOffLocker) Lock(context.Context, string) (cached.Unlocker, error) {
	l.before()
	return fencedUnlocker(7), nil
}

type fencedUnlocker uint64

func (fencedUnlocker) Unlock(context.Context) error { return nil }
func (u fencedUnlocker) Fence() uint64              { return uint64(u) }

func TestLoadWritesFenceToStore(t *testing.T) {
	s := newMemStore()
	c := newCache(t, cached.WithStore(s), cached.WithLocker(&handOffLocker{before: func() {}}))
	cached.Wrap(c, "x", func(context.Context, int) (int, error) { return 1, nil })(context.Background(), 1)
	if m, ok := s.item(":x::1"); !ok || m.it.Fence != 7 {
		t.Errorf("stored item = %+v, %v; want fence 7 from the lock", m.it, ok)
	}
}

package memcached

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached"
)

// held is a lease this process placed and has not yet written back.
type held struct {
	token   uint64
	expires time.Time
}

// leases are the leases this Store holds, by memcached key. The engine coalesces the
// callers of a key into one flight per process, so a key has at most one of them.
type leases struct {
	mu   sync.Mutex // protects m and adds
	m    map[string]held
	adds int // since the last sweep of expired leases
}

func (l *leases) hold(mk string, token uint64, ttl time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = make(map[string]held)
	}
	now := time.Now()
	l.m[mk] = held{token: token, expires: now.Add(ttl)}
	if l.adds++; l.adds >= 1024 { // leases whose load never wrote back (errors, not-found)
		l.adds = 0
		for k, h := range l.m {
			if now.After(h.expires) {
				delete(l.m, k)
			}
		}
	}
}

// owns reports whether token is this process's lease on mk.
func (l *leases) owns(mk string, token uint64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, ok := l.m[mk]
	return ok && h.token == token
}

// take removes and returns what this process holds for mk: a lease, or (token 0) the mark
// of a read that stopped waiting for another process's lease. found is false when it holds
// nothing.
func (l *leases) take(mk string) (h held, found bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, found = l.m[mk]
	delete(l.m, mk)
	return h, found
}

// getLeased is Get with leases: a miss places a lease, and another process's lease is
// waited on. It returns the value's bytes, or a miss.
func (s *Store) getLeased(ctx context.Context, mk string) (*memcache.Item, error) {
	deadline := time.Now().Add(s.cfg.leaseWait)
	backoff := 2 * time.Millisecond
	waited := false
	for {
		mi, err := s.get(ctx, mk)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			token := rand.Uint64() | 1
			err := s.call(ctx, mk, func() error {
				return s.c.Add(&memcache.Item{Key: mk, Value: encodeLease(token), Expiration: expiration(s.cfg.leaseTTL, time.Now())})
			})
			switch {
			case err == nil:
				s.leases.hold(mk, token, s.cfg.leaseTTL)
				s.stats.leases.Add(1)
				return nil, memcache.ErrCacheMiss // ours to load
			case errors.Is(err, memcache.ErrNotStored) && time.Now().Before(deadline):
				continue // another reader's lease or value came first: read it
			case errors.Is(err, memcache.ErrNotStored):
				return nil, memcache.ErrCacheMiss // keeps changing under us: load without a lease
			}
			return nil, err
		case err != nil:
			return nil, err
		}
		_, lease, perr := parse(mi.Value)
		if perr != nil || lease == 0 {
			if waited && perr == nil {
				s.stats.leaseWaited.Add(1)
			}
			return mi, nil // a value (or a foreign one, for the caller to delete)
		}
		if s.leases.owns(mk, lease) {
			return nil, memcache.ErrCacheMiss // our own lease: we are the loader (a re-read after a lock)
		}
		if !waited {
			waited = true
			s.stats.leaseWaits.Add(1)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if time.Now().Add(backoff).After(deadline) {
			// The other reader is slow: load after all, but without a lease, so the
			// write-back is dropped (an Invalidate during this load could not stop it).
			s.leases.hold(mk, 0, s.cfg.leaseTTL)
			return nil, memcache.ErrCacheMiss
		}
		// Polling: memcached cannot tell us when the lease is replaced.
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		backoff = min(2*backoff, 20*time.Millisecond)
	}
}

// writeBack writes a loaded value over this process's lease on mk by compare-and-swap. If
// the lease is gone (deleted by an Invalidate, or expired) or replaced, the value may be
// stale and is dropped. ok is false when this process holds no lease on mk: an ordinary
// write follows. Only the engine's write-backs ([cached.IsWriteBack]) come here: a Put is
// unconditional, and its compare-and-swap over a lease makes the pending write-back fail.
func (s *Store) writeBack(ctx context.Context, mk string, val []byte, exp int32) (ok bool, err error) {
	h, found := s.leases.take(mk)
	switch {
	case !found:
		return false, nil
	case h.token == 0 || time.Now().After(h.expires):
		// Loaded without a lease (the wait for another reader's ran out) or past its
		// expiry: nothing guards this value against an Invalidate during the load.
		s.stats.leaseLost.Add(1)
		return true, nil
	}
	token := h.token
	cur, err := s.get(ctx, mk)
	if errors.Is(err, memcache.ErrCacheMiss) {
		s.stats.leaseLost.Add(1)
		return true, nil
	} else if err != nil {
		return true, err
	}
	if _, lease, _ := parse(cur.Value); lease != token {
		s.stats.leaseLost.Add(1)
		return true, nil
	}
	cur.Value, cur.Expiration = val, exp
	err = s.call(ctx, mk, func() error { return s.c.CompareAndSwap(cur) })
	if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) {
		s.stats.leaseLost.Add(1)
		return true, nil
	}
	if err == nil {
		s.stats.sets.Add(1)
	}
	return true, err
}

// Release implements [cached.Releaser]: the flight that placed a lease on key ended
// without writing back, so the lease is deleted at once instead of making other processes
// wait for it until it expires.
func (s *Store) Release(ctx context.Context, key string) {
	mk := safeKey(key)
	h, _ := s.leases.take(mk)
	token := h.token
	if token == 0 {
		return
	}
	cur, err := s.get(ctx, mk)
	if err != nil {
		return
	}
	if _, lease, _ := parse(cur.Value); lease == token {
		// Between the read and the delete another writer may replace the lease; deleting
		// its value then costs one miss, never a stale value.
		s.call(ctx, mk, func() error { return s.c.Delete(mk) })
	}
}

var (
	_ cached.Store       = (*Store)(nil)
	_ cached.MultiGetter = (*Store)(nil)
	_ cached.Releaser    = (*Store)(nil)
)

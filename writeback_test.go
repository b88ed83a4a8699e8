package cached_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// leaseStore records which writes the engine marked as write-backs, and its releases.
type leaseStore struct {
	*memStore
	mu         sync.Mutex // protects writeBacks and releases
	writeBacks []bool
	releases   []string
}

func (s *leaseStore) Set(ctx context.Context, key string, it cached.Item, ttl time.Duration) error {
	s.mu.Lock()
	s.writeBacks = append(s.writeBacks, cached.IsWriteBack(ctx))
	s.mu.Unlock()
	return s.memStore.Set(ctx, key, it, ttl)
}

func (s *leaseStore) Release(_ context.Context, key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releases = append(s.releases, key)
}

// TestWriteBackMarkedAndReleased: a flight that read a miss marks its write as a
// write-back; Put and Refresh do not; a flight that read a miss and wrote nothing releases
// the key.
func TestWriteBackMarkedAndReleased(t *testing.T) {
	s := &leaseStore{memStore: newMemStore()}
	c := newCache(t, cached.WithStore(s), cached.NegativeTTL(0))
	fail := false
	f := cached.NewFunc(c, "x", func(_ context.Context, k int) (int, error) {
		switch {
		case fail:
			return 0, errors.New("db down")
		case k == 404:
			return 0, cached.ErrNotFound
		}
		return k, nil
	})
	ctx := context.Background()
	f.Get(ctx, 1)     // miss, load, write-back
	f.Put(ctx, 2, 2)  // unconditional
	f.Refresh(ctx, 3) // no Store read: unconditional
	if want := []bool{true, false, false}; !slices.Equal(s.writeBacks, want) {
		t.Errorf("write-back marks = %v; want %v", s.writeBacks, want)
	}
	fail = true
	f.Get(ctx, 5) // miss, the load fails: nothing written
	if !slices.Equal(s.releases, []string{":x::5"}) {
		t.Errorf("releases = %q; want the failed flight's key", s.releases)
	}
	fail = false
	f.Get(ctx, 404) // not found, NegativeTTL(0): the key is deleted, which ends a lease
	if len(s.releases) != 1 {
		t.Errorf("releases = %q; want none for a flight that deleted its key", s.releases)
	}
}

package luapolicy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// recStore is an in-memory Store that records the keys and TTLs it is given.
type recStore struct {
	mu    sync.Mutex // protects items and sets
	items map[string]cached.Item
	sets  []set
}

type set struct {
	key string
	it  cached.Item
}

func newRecStore() *recStore { return &recStore{items: map[string]cached.Item{}} }

func (s *recStore) Get(_ context.Context, key string) (cached.Item, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	it, ok := s.items[key]
	return it, ok, nil
}

func (s *recStore) Set(_ context.Context, key string, it cached.Item, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items[key] = it
	s.sets = append(s.sets, set{key, it})
	return nil
}

func (s *recStore) Delete(_ context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.items, key)
	return nil
}

func (s *recStore) written() []set {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]set(nil), s.sets...)
}

// countLocker is a Locker that counts its locks.
type countLocker struct{ locks atomic.Int64 }

func (l *countLocker) Lock(context.Context, string) (cached.Unlocker, error) {
	l.locks.Add(1)
	return unlocker{}, nil
}

type unlocker struct{}

func (unlocker) Unlock(context.Context) error { return nil }
func (unlocker) Fence() uint64                { return 0 }

// mustLoad loads src or fails the test, and closes the engine when the test ends.
func mustLoad(t *testing.T, src string, opts ...luapolicy.Option) *luapolicy.Engine {
	t.Helper()
	e, err := luapolicy.LoadString("p.lua", src, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// reloads returns an OnReload option and the channel its reports arrive on.
func reloads() (luapolicy.Option, chan luapolicy.Reload) {
	ch := make(chan luapolicy.Reload, 64)
	return luapolicy.OnReload(func(r luapolicy.Reload) { ch <- r }), ch
}

// writeFile writes src to path atomically, as an editor or a deployment does.
func writeFile(t *testing.T, path, src string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// awaitReload waits for the report of the reload of the content with checksum sum.
func awaitReload(t *testing.T, ch <-chan luapolicy.Reload, sum string) luapolicy.Reload {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case r := <-ch:
			if r.Checksum == sum {
				return r
			}
		case <-timeout:
			t.Fatalf("no reload of %s within 10s", sum[:12])
		}
	}
}

// sum is the checksum a Reload reports for src.
func sum(src string) string {
	s := sha256.Sum256([]byte(src))
	return hex.EncodeToString(s[:])
}

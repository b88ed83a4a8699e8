package cached_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quiet is the logger for tests that make plug-ins fail on purpose.
var quiet = cached.WithLogger(slog.New(slog.DiscardHandler))

// newCache returns a Cache closed when the test ends.
func newCache(t *testing.T, opts ...cached.Option) *cached.Cache {
	t.Helper()
	c := cached.New(opts...)
	t.Cleanup(func() { c.Close() })
	return c
}

// loader is a loader that counts its calls and answers from a function.
type loader[K comparable, V any] struct {
	calls atomic.Int64
	fn    func(ctx context.Context, k K) (V, error)
}

func (l *loader[K, V]) load(ctx context.Context, k K) (V, error) {
	l.calls.Add(1)
	return l.fn(ctx, k)
}

func countingLoader[K comparable, V any](fn func(ctx context.Context, k K) (V, error)) *loader[K, V] {
	return &loader[K, V]{fn: fn}
}

// memStore is a Store in a map, whose failures the test switches on and off. It is a
// fake for fault paths; the real stores have their own tests.
type memStore struct {
	mu    sync.Mutex // protects the fields below
	items map[string]memItem
	fail  error // returned by every call while set
	gets  int
	sets  int
	dels  int
	keys  []string // every key Set, in order
}

type memItem struct {
	it  cached.Item
	ttl time.Duration
}

func newMemStore() *memStore { return &memStore{items: make(map[string]memItem)} }

func (s *memStore) Get(ctx context.Context, key string) (cached.Item, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gets++
	if s.fail != nil {
		return cached.Item{}, false, s.fail
	}
	m, ok := s.items[key]
	return m.it, ok, nil
}

func (s *memStore) Set(ctx context.Context, key string, it cached.Item, ttl time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sets++
	if s.fail != nil {
		return s.fail
	}
	s.items[key] = memItem{it: it, ttl: ttl}
	s.keys = append(s.keys, key)
	return nil
}

func (s *memStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dels++
	if s.fail != nil {
		return s.fail
	}
	delete(s.items, key)
	return nil
}

func (s *memStore) setFail(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

func (s *memStore) item(key string) (memItem, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.items[key]
	return m, ok
}

func (s *memStore) setKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

var errDown = errors.New("server down")

// user is the value type of most tests.
type user struct {
	ID   int64
	Name string
}

package storetest_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/storetest"
)

// memory is a reference Store: a map with expiry, fencing and GetMulti.
type memory struct {
	mu    sync.Mutex // protects items
	items map[string]entry
	// faults, for TestSuiteCatchesBrokenStores
	errOnMiss, dropNegative, truncateKeys, ignoreFences, neverExpire bool
}

type entry struct {
	it      cached.Item
	expires time.Time
}

func newMemory() *memory { return &memory{items: make(map[string]entry)} }

func (m *memory) k(key string) string {
	if m.truncateKeys && len(key) > 250 {
		return key[:250]
	}
	return key
}

func (m *memory) Get(_ context.Context, key string) (cached.Item, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.items[m.k(key)]
	if ok && !m.neverExpire && time.Now().After(e.expires) {
		delete(m.items, m.k(key))
		ok = false
	}
	if !ok && m.errOnMiss {
		return cached.Item{}, false, os.ErrNotExist
	}
	return e.it, ok, nil
}

func (m *memory) Set(_ context.Context, key string, it cached.Item, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.items[m.k(key)]; ok && !m.ignoreFences {
		if it.Fence != 0 && it.Fence < old.it.Fence {
			return nil // an older holder's write
		}
		if it.Fence == 0 {
			it.Fence = old.it.Fence
		}
	}
	if m.dropNegative {
		it.Negative = false
	}
	it.Value = append([]byte(nil), it.Value...)
	m.items[m.k(key)] = entry{it: it, expires: time.Now().Add(max(ttl, time.Millisecond))}
	return nil
}

func (m *memory) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, m.k(key))
	return nil
}

func (m *memory) GetMulti(ctx context.Context, keys []string) (map[string]cached.Item, error) {
	out := make(map[string]cached.Item)
	for _, k := range keys {
		if it, ok, _ := m.Get(ctx, k); ok {
			out[k] = it
		}
	}
	return out, nil
}

func TestReferenceStorePasses(t *testing.T) {
	storetest.Run(t, func(*testing.T) cached.Store { return newMemory() }, storetest.Fencing())
}

// TestSuiteCatchesBrokenStores runs the suite, in a child process, against stores that
// each break one rule, and checks that it fails for each.
func TestSuiteCatchesBrokenStores(t *testing.T) {
	if fault := os.Getenv("STORETEST_FAULT"); fault != "" {
		return // the child runs TestBrokenStoreChild instead
	}
	for _, fault := range []string{"errOnMiss", "dropNegative", "truncateKeys", "ignoreFences", "neverExpire"} {
		t.Run(fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestBrokenStoreChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "STORETEST_FAULT="+fault)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), "--- FAIL") {
				t.Errorf("the suite passed a store with %s:\n%s", fault, out)
			}
		})
	}
}

func TestBrokenStoreChild(t *testing.T) {
	fault := os.Getenv("STORETEST_FAULT")
	if fault == "" {
		return // only meaningful in the child of TestSuiteCatchesBrokenStores
	}
	newStore := func(*testing.T) cached.Store {
		m := newMemory()
		switch fault {
		case "errOnMiss":
			m.errOnMiss = true
		case "dropNegative":
			m.dropNegative = true
		case "truncateKeys":
			m.truncateKeys = true
		case "ignoreFences":
			m.ignoreFences = true
		case "neverExpire":
			m.neverExpire = true
		}
		return m
	}
	storetest.Run(t, newStore, storetest.Fencing(), storetest.ExpiryWait(2*time.Second))
}

// ExampleRun shows a store's conformance test. It is compiled, not run: Run needs the
// *testing.T of a real test.
func ExampleRun() {
	_ = func(t *testing.T) { // func TestConformance(t *testing.T) in the store's package
		storetest.Run(t, func(*testing.T) cached.Store { return newMemory() }, storetest.Fencing())
	}
}

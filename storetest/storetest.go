// Package storetest checks that a [cached.Store] keeps the contract documented on that
// interface, so that every implementation (the memcached store, a user's own) is held to
// the same rules. Call [Run] from a test of the implementation, against a real server
// where there is one:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) cached.Store { return mystore.New(addr) })
//	}
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// Option adjusts what [Run] checks.
type Option func(*config)

type config struct {
	fencing   bool
	precision time.Duration
	expiry    time.Duration
}

// Fencing declares that the store implements fencing (see [cached.Store] Set): [Run]
// then checks that older fences are refused and that unfenced writes keep the fence.
func Fencing() Option { return func(c *config) { c.fencing = true } }

// TimePrecision is how finely the store keeps Item.Written and Item.Fresh. Default: a
// millisecond.
func TimePrecision(d time.Duration) Option { return func(c *config) { c.precision = d } }

// ExpiryWait bounds how long [Run] waits for an item stored with a one-second TTL to
// expire; 0 skips that check. Default: 5 seconds (memcached rounds TTLs up to whole
// seconds).
func ExpiryWait(d time.Duration) Option { return func(c *config) { c.expiry = d } }

// Run runs the conformance suite as subtests of t. newStore returns the store to check;
// it is called once per subtest, and keys are unique per subtest, so it may return the
// same store each time (a shared server).
func Run(t *testing.T, newStore func(t *testing.T) cached.Store, opts ...Option) {
	cfg := config{precision: time.Millisecond, expiry: 5 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	run := func(name string, fn func(t *testing.T, s cached.Store, key func(string) string)) {
		t.Run(name, func(t *testing.T) {
			prefix := fmt.Sprintf("storetest/%s/%d/", name, time.Now().UnixNano())
			fn(t, newStore(t), func(k string) string { return prefix + k })
		})
	}
	run("Miss", testMiss)
	run("RoundTrip", func(t *testing.T, s cached.Store, key func(string) string) { testRoundTrip(t, s, key, cfg) })
	run("Overwrite", testOverwrite)
	run("Delete", testDelete)
	run("KeyForms", testKeyForms)
	run("Concurrent", testConcurrent)
	if cfg.expiry > 0 {
		run("Expires", func(t *testing.T, s cached.Store, key func(string) string) { testExpires(t, s, key, cfg.expiry) })
	}
	if cfg.fencing {
		run("Fencing", testFencing)
	}
	run("MultiGet", testMultiGet)
}

func item(value string) cached.Item {
	now := time.Now()
	return cached.Item{Value: []byte(value), Written: now, Fresh: now.Add(time.Minute)}
}

func mustGet(t *testing.T, s cached.Store, key string) (cached.Item, bool) {
	t.Helper()
	it, ok, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return it, ok
}

func mustSet(t *testing.T, s cached.Store, key string, it cached.Item, ttl time.Duration) {
	t.Helper()
	if err := s.Set(context.Background(), key, it, ttl); err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
}

func testMiss(t *testing.T, s cached.Store, key func(string) string) {
	if _, ok := mustGet(t, s, key("absent")); ok {
		t.Errorf("Get of a key never set: ok = true; want a miss")
	}
}

func testRoundTrip(t *testing.T, s cached.Store, key func(string) string, cfg config) {
	written := time.Now().Add(-time.Second)
	for name, want := range map[string]cached.Item{
		"value":    {Value: []byte(`{"id":1}`), Written: written, Fresh: written.Add(time.Hour), Delta: 42 * time.Millisecond},
		"binary":   {Value: []byte{0, 1, 2, 0xff, '\r', '\n', 0}, Written: written, Fresh: written.Add(time.Hour)},
		"empty":    {Value: []byte{}, Written: written, Fresh: written.Add(time.Hour)},
		"large":    {Value: bytes.Repeat([]byte("x"), 100<<10), Written: written, Fresh: written.Add(time.Hour)},
		"negative": {Negative: true, Written: written, Fresh: written.Add(time.Minute)},
		"fenced":   {Value: []byte("v"), Written: written, Fresh: written.Add(time.Hour), Fence: 1 << 40},
	} {
		t.Run(name, func(t *testing.T) {
			mustSet(t, s, key(name), want, time.Hour)
			got, ok := mustGet(t, s, key(name))
			if !ok {
				t.Fatalf("Get after Set: miss")
			}
			if !bytes.Equal(got.Value, want.Value) || got.Negative != want.Negative ||
				got.Delta != want.Delta || got.Fence != want.Fence {
				t.Errorf("got %+v; want %+v", summary(got), summary(want))
			}
			if d := got.Written.Sub(want.Written).Abs(); d > cfg.precision {
				t.Errorf("Written = %v; want %v (within %v)", got.Written, want.Written, cfg.precision)
			}
			if d := got.Fresh.Sub(want.Fresh).Abs(); d > cfg.precision {
				t.Errorf("Fresh = %v; want %v (within %v)", got.Fresh, want.Fresh, cfg.precision)
			}
		})
	}
}

func summary(it cached.Item) string {
	v := string(it.Value)
	if len(v) > 20 {
		v = fmt.Sprintf("%s…(%d bytes)", v[:20], len(it.Value))
	}
	return fmt.Sprintf("{Value:%q Negative:%v Delta:%v Fence:%d}", v, it.Negative, it.Delta, it.Fence)
}

func testOverwrite(t *testing.T, s cached.Store, key func(string) string) {
	mustSet(t, s, key("k"), item("first"), time.Hour)
	mustSet(t, s, key("k"), item("second"), time.Hour)
	if got, ok := mustGet(t, s, key("k")); !ok || string(got.Value) != "second" {
		t.Errorf("after two Sets: %q, %v; want second", got.Value, ok)
	}
}

func testDelete(t *testing.T, s cached.Store, key func(string) string) {
	mustSet(t, s, key("k"), item("v"), time.Hour)
	if err := s.Delete(context.Background(), key("k")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, ok := mustGet(t, s, key("k")); ok {
		t.Errorf("Get after Delete: ok = true; want a miss")
	}
	if err := s.Delete(context.Background(), key("never-set")); err != nil {
		t.Errorf("Delete of a missing key: %v; want nil", err)
	}
}

// testKeyForms: any string is a key, and distinct keys never share an entry (memcached
// itself refuses keys over 250 bytes, with spaces or with control characters).
func testKeyForms(t *testing.T, s cached.Store, key func(string) string) {
	forms := []string{
		"", "plain", "with space", "tab\there", "new\nline", "nul\x00byte", "colon:percent%",
		"ünïcødé", strings.Repeat("k", 300), strings.Repeat("k", 299) + "x",
	}
	for i, f := range forms {
		mustSet(t, s, key(f), item(fmt.Sprint("value ", i)), time.Hour)
	}
	for i, f := range forms {
		got, ok := mustGet(t, s, key(f))
		if want := fmt.Sprint("value ", i); !ok || string(got.Value) != want {
			t.Errorf("key %q: got %q, %v; want %q", f, got.Value, ok, want)
		}
	}
}

func testConcurrent(t *testing.T, s cached.Store, key func(string) string) {
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			ctx := context.Background()
			for i := range 50 {
				k := key(fmt.Sprint("shared-", i%5))
				own := key(fmt.Sprint("own-", g, "-", i))
				if err := s.Set(ctx, own, item(own), time.Hour); err != nil {
					errs <- err
					return
				}
				if err := s.Set(ctx, k, item("shared"), time.Hour); err != nil {
					errs <- err
					return
				}
				it, ok, err := s.Get(ctx, own)
				if err != nil || !ok || string(it.Value) != own {
					errs <- fmt.Errorf("Get(%q) = %q, %v, %v", own, it.Value, ok, err)
					return
				}
				if _, _, err := s.Get(ctx, k); err != nil {
					errs <- err
					return
				}
				if i%7 == 0 {
					if err := s.Delete(ctx, k); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// testExpires: an item set with a one-second TTL expires: no TTL becomes "never expires".
func testExpires(t *testing.T, s cached.Store, key func(string) string, wait time.Duration) {
	mustSet(t, s, key("short"), item("v"), time.Second)
	mustSet(t, s, key("tiny"), item("v"), time.Nanosecond) // rounded up, never to "no expiry"
	deadline := time.Now().Add(wait)
	for _, k := range []string{key("short"), key("tiny")} {
		for {
			if _, ok := mustGet(t, s, k); !ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%q still stored %v after a 1s TTL", k, wait)
			}
			time.Sleep(50 * time.Millisecond) // polling the server's clock: no event to wait on
		}
	}
}

func testFencing(t *testing.T, s cached.Store, key func(string) string) {
	fenced := func(v string, fence uint64) cached.Item {
		it := item(v)
		it.Fence = fence
		return it
	}
	mustSet(t, s, key("k"), fenced("holder 2", 2), time.Hour)
	mustSet(t, s, key("k"), fenced("stalled holder 1", 1), time.Hour) // dropped, no error
	if got, _ := mustGet(t, s, key("k")); string(got.Value) != "holder 2" {
		t.Errorf("after an older fence's write: %q; want holder 2's value kept", got.Value)
	}
	mustSet(t, s, key("k"), fenced("put", 0), time.Hour) // unconditional
	if got, _ := mustGet(t, s, key("k")); string(got.Value) != "put" || got.Fence != 2 {
		t.Errorf("after an unfenced write: %q with fence %d; want put, keeping fence 2", got.Value, got.Fence)
	}
	mustSet(t, s, key("k"), fenced("stalled holder 1 again", 1), time.Hour)
	if got, _ := mustGet(t, s, key("k")); string(got.Value) != "put" {
		t.Errorf("an older fence overwrote an unfenced write: %q", got.Value)
	}
	mustSet(t, s, key("k"), fenced("holder 3", 3), time.Hour)
	if got, _ := mustGet(t, s, key("k")); string(got.Value) != "holder 3" {
		t.Errorf("a newer fence was refused: %q", got.Value)
	}
}

func testMultiGet(t *testing.T, s cached.Store, key func(string) string) {
	mg, ok := s.(cached.MultiGetter)
	if !ok {
		t.Log("the store has no GetMulti (optional): nothing to check")
		return
	}
	mustSet(t, s, key("a"), item("A"), time.Hour)
	mustSet(t, s, key("c"), item("C"), time.Hour)
	got, err := mg.GetMulti(context.Background(), []string{key("a"), key("b"), key("c")})
	if err != nil {
		t.Fatalf("GetMulti: %v", err)
	}
	if len(got) != 2 || string(got[key("a")].Value) != "A" || string(got[key("c")].Value) != "C" {
		t.Errorf("GetMulti = %v; want a and c only", got)
	}
	if _, ok := got[key("b")]; ok {
		t.Errorf("GetMulti returned the missing key b")
	}
}

package luapolicy_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// loadFile writes src to a policy file, loads it with a fast poll and opts, and returns
// the file's path, the engine (closed when the test ends) and its reload reports.
func loadFile(t *testing.T, src string, opts ...luapolicy.Option) (string, *luapolicy.Engine, chan luapolicy.Reload) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.lua")
	writeFile(t, path, src)
	opt, ch := reloads()
	e, err := luapolicy.Load(path, append([]luapolicy.Option{luapolicy.PollInterval(5 * time.Millisecond), opt}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return path, e, ch
}

func policyWithKey(prefix string) string {
	return fmt.Sprintf(`return { user = { key = function(call) return %q .. call.args[1] end } }`, prefix)
}

func decideKey(t *testing.T, e *luapolicy.Engine, arg any) string {
	t.Helper()
	d, err := e.Rules("user").Decide(context.Background(), cached.Call{Func: "user", Key: "k", Args: []any{arg}})
	if err != nil {
		t.Fatal(err)
	}
	return d.Key
}

func TestWatchReloadsChangedFile(t *testing.T) {
	v1, v2, bad := policyWithKey("a:"), policyWithKey("b:"), "return {\n  user = { ttl = },\n}"
	path, e, ch := loadFile(t, v1)
	awaitReload(t, ch, sum(v1))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Watch(ctx) }()

	writeFile(t, path, v2)
	if r := awaitReload(t, ch, sum(v2)); r.Err != nil || r.Version != 2 {
		t.Fatalf("reload of v2 = %+v; want version 2, no error", r)
	}
	if k := decideKey(t, e, 7); k != "b:7" {
		t.Errorf("key after the reload = %q; want b:7", k)
	}

	// A broken version is rejected with file:line, and v2 stays live.
	writeFile(t, path, bad)
	r := awaitReload(t, ch, sum(bad))
	if !errors.Is(r.Err, luapolicy.ErrRejected) || !strings.Contains(r.Err.Error(), path+":2:") {
		t.Errorf("reload of a broken file: err = %v; want ErrRejected at %s:2", r.Err, path)
	}
	if k := decideKey(t, e, 7); k != "b:7" {
		t.Errorf("key after a rejected reload = %q; want b:7 (v2 stays live)", k)
	}
	s := e.Stats()
	if s.Version != 2 || s.Checksum != sum(v2) || s.Reloads != 2 || s.ReloadsFailed != 1 || s.LastError == nil || s.Source != path {
		t.Errorf("stats = %+v; want version 2 with v2's checksum, 2 reloads, 1 failed, the last error, source %s", s, path)
	}

	writeFile(t, path, v1)
	awaitReload(t, ch, sum(v1))
	if k := decideKey(t, e, 7); k != "a:7" {
		t.Errorf("key after fixing the file = %q; want a:7", k)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Watch = %v; want context.Canceled", err)
	}
}

// blockingCtx is a context whose Value blocks until release is closed: a request carrying
// it holds the policy's run open while the conversion reads the chi route.
type blockingCtx struct {
	context.Context
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (c *blockingCtx) Value(k any) any {
	c.once.Do(func() { close(c.entered) })
	<-c.release
	return c.Context.Value(k)
}

func TestInFlightCallFinishesOnItsVersion(t *testing.T) {
	v1 := `return { user = { key = function(call) return "v1:" .. call.args[1].path end } }`
	v2 := `return { user = { key = function(call) return "v2:" .. call.args[1].path end } }`
	path, e, ch := loadFile(t, v1, luapolicy.PoolSize(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Watch(ctx)

	bc := &blockingCtx{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
	req := httptest.NewRequest("GET", "/a", nil).WithContext(bc)
	rules := e.Rules("user")
	got := make(chan string)
	go func() {
		d, err := rules.Decide(context.Background(), cached.Call{Func: "user", Args: []any{req}})
		if err != nil {
			got <- err.Error()
			return
		}
		got <- d.Key
	}()
	<-bc.entered // the v1 call holds a v1 state

	writeFile(t, path, v2)
	awaitReload(t, ch, sum(v2))
	if k := decideKey(t, e, httptest.NewRequest("GET", "/b", nil)); k != "v2:/b" {
		t.Errorf("new call = %q; want v2:/b", k)
	}
	if n := e.Stats().States; n != 2 {
		t.Errorf("states while the v1 call runs = %d; want 2 (its own and v2's)", n)
	}
	close(bc.release)
	if k := <-got; k != "v1:/a" {
		t.Errorf("in-flight call = %q; want v1:/a: it finishes on the version it started with", k)
	}
	if n := e.Stats().States; n != 1 {
		t.Errorf("states after the v1 call returned = %d; want 1: v1's state is closed on return", n)
	}
}

func TestReloadUnderLoadFailsNoCall(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.lua")
	versions := []string{
		`return { user = { key = function(call) return "k" .. call.args[1] end, ttl = "1m" } }`,
		`return { user = { key = function(call) return "k" .. call.args[1] end, ttl = "2m" } }`,
	}
	writeFile(t, path, versions[0])
	opt, ch := reloads()
	e, err := luapolicy.Load(path, luapolicy.PollInterval(time.Millisecond), luapolicy.PoolSize(4), opt)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	c := cached.New(cached.WithPolicy(e))
	defer c.Close()
	get := cached.Wrap(c, "user", func(_ context.Context, id int) (int, error) { return id * 2, nil })
	ctx, cancel := context.WithCancel(context.Background())
	watched := make(chan error)
	go func() { watched <- e.Watch(ctx) }()

	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := g*1000 + i%50
				if v, err := get(ctx, id); err != nil || v != id*2 {
					failed.Add(1)
				}
				calls.Add(1)
			}
		})
	}
	const reloadsWanted = 40
	for i := 1; i <= reloadsWanted; i++ {
		src := versions[i%2]
		writeFile(t, path, src)
		if r := awaitReload(t, ch, sum(src)); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	close(stop)
	wg.Wait()
	cancel()
	<-watched
	if f := failed.Load(); f != 0 {
		t.Errorf("%d of %d calls failed during %d reloads; want 0", f, calls.Load(), reloadsWanted)
	}
	if s := c.Stats().Funcs["user"]; s.PolicyErrors != 0 {
		t.Errorf("policy errors = %d; want 0", s.PolicyErrors)
	}
	if s := e.Stats(); s.Reloads != reloadsWanted+1 || s.States > 4 {
		t.Errorf("reloads %d, states %d; want %d reloads and at most PoolSize (4) states left open", s.Reloads, s.States, reloadsWanted+1)
	}
	t.Logf("%d calls during %d reloads", calls.Load(), reloadsWanted)
}

func TestUnchangedStaticPolicyKeepsItsRules(t *testing.T) {
	v1 := `return { user = { ttl = "5m" }, item = { ttl = "1m" } }`
	v2 := `return { user = { ttl = "5m" }, item = { ttl = "2m" } }`
	path, e, ch := loadFile(t, v1)
	user, item := e.Rules("user"), e.Rules("item")
	gen := e.Generation().Load()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Watch(ctx)
	writeFile(t, path, v2)
	awaitReload(t, ch, sum(v2))
	if e.Rules("user") != user {
		t.Error("user's Rules changed; want the same pointer: its policy did not change, so its cached entries stay")
	}
	if e.Rules("item") == item {
		t.Error("item's Rules did not change; want new Rules for its new TTL")
	}
	if g := e.Generation().Load(); g != gen+1 {
		t.Errorf("generation = %d; want %d", g, gen+1)
	}
}

func TestCloseEndsWatchesAndCalls(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.lua")
	writeFile(t, path, policyWithKey("a:"))
	e, err := luapolicy.Load(path, luapolicy.PollInterval(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- e.Watch(context.Background()) }()
	rules := e.Rules("user")
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, luapolicy.ErrClosed) {
		t.Errorf("Watch after Close = %v; want ErrClosed", err)
	}
	if _, err := rules.Decide(context.Background(), cached.Call{Func: "user", Args: []any{1}}); !errors.Is(err, luapolicy.ErrClosed) {
		t.Errorf("Decide after Close = %v; want ErrClosed", err)
	}
	if n := e.Stats().States; n != 0 {
		t.Errorf("states after Close = %d; want 0", n)
	}
	if e.Rules("user") != rules {
		t.Error("Rules after Close changed; want the static settings kept")
	}
	if err := e.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}

	s := mustLoad(t, `return {}`)
	if err := s.Watch(context.Background()); !errors.Is(err, luapolicy.ErrNoFile) {
		t.Errorf("Watch of a LoadString engine = %v; want ErrNoFile", err)
	}
}

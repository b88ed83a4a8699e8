package luapolicy_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

func TestStaticSettingsReachTheEngine(t *testing.T) {
	e := mustLoad(t, `return {
	  user = { ttl = "90s", jitter = 0, negative_ttl = 5, version = "v2" },
	}`)
	st := newRecStore()
	c := cached.New(cached.WithPolicy(e), cached.WithStore(st), cached.TTL(time.Hour), cached.Jitter(nil))
	defer c.Close()
	get := cached.Wrap(c, "user", func(_ context.Context, id int) (string, error) {
		if id < 0 {
			return "", cached.ErrNotFound
		}
		return fmt.Sprint("u", id), nil
	})
	ctx := context.Background()
	get(ctx, 1)
	get(ctx, -1)
	ws := st.written()
	if len(ws) != 2 {
		t.Fatalf("store writes = %d; want 2", len(ws))
	}
	for _, w := range ws {
		if !strings.Contains(w.key, ":v2:") {
			t.Errorf("key %q; want the policy's version v2 in it", w.key)
		}
		want := 90 * time.Second
		if w.it.Negative {
			want = 5 * time.Second
		}
		if got := w.it.Fresh.Sub(w.it.Written); got != want {
			t.Errorf("%s (negative %v): TTL %v; want %v", w.key, w.it.Negative, got, want)
		}
	}
}

func TestKeyFunctionSetsTheStoreKey(t *testing.T) {
	e := mustLoad(t, `return {
	  ["by-email"] = { key = function(call) return string.lower(call.args[1]) end },
	}`)
	st := newRecStore()
	c := cached.New(cached.WithPolicy(e), cached.WithStore(st), cached.LocalSize(0))
	defer c.Close()
	loads := 0
	get := cached.Wrap(c, "by-email", func(_ context.Context, email string) (string, error) {
		loads++
		return "account of " + strings.ToLower(email), nil
	})
	ctx := context.Background()
	for _, email := range []string{"Ann@X.org", "ann@x.org", "ANN@X.ORG"} {
		if v, err := get(ctx, email); err != nil || v != "account of ann@x.org" {
			t.Fatalf("get(%q) = %q, %v", email, v, err)
		}
	}
	if loads != 1 {
		t.Errorf("loads = %d; want 1: the three spellings share the key the policy computed", loads)
	}
	if ws := st.written(); len(ws) != 1 || !strings.HasSuffix(ws[0].key, ":ann@x.org") {
		t.Errorf("store writes = %v; want one, under the lower-cased key", ws)
	}
}

func TestBypassFunctionAndStaticBypass(t *testing.T) {
	e := mustLoad(t, `return {
	  user = { bypass = function(call) return call.args[1] < 0 end },
	  search = { bypass = true },
	}`)
	c := cached.New(cached.WithPolicy(e))
	defer c.Close()
	loads := map[string]int{}
	wrap := func(name string) func(context.Context, int) (int, error) {
		return cached.Wrap(c, name, func(_ context.Context, id int) (int, error) { loads[name]++; return id, nil })
	}
	user, search := wrap("user"), wrap("search")
	ctx := context.Background()
	for range 3 {
		user(ctx, 1)
		user(ctx, -1)
		search(ctx, 1)
	}
	if loads["user"] != 1+3 || loads["search"] != 3 {
		t.Errorf("loads = %v; want user 4 (1 cached + 3 bypassed), search 3", loads)
	}
	if s := c.Stats().Funcs; s["user"].Bypasses != 3 || s["search"].Bypasses != 3 {
		t.Errorf("bypasses: user %d, search %d; want 3 and 3", s["user"].Bypasses, s["search"].Bypasses)
	}
	if s := e.Stats(); s.Calls != 6 || s.Errors != 0 {
		t.Errorf("engine calls %d, errors %d; want 6 and 0 (search's static bypass runs no Lua)", s.Calls, s.Errors)
	}
}

type doc struct {
	ID       int    `json:"id"`
	Status   string `json:"status"`
	Archived bool   `lua:"archived"`
}

func TestTTLFunctionSeesTheValue(t *testing.T) {
	e := mustLoad(t, `return {
	  doc = {
	    ttl = function(call, d)
	      if d.status == "draft" then return false end
	      if d.archived then return "24h" end
	      return nil
	    end,
	    jitter = 0,
	    examples = {
	      { value = { status = "draft" }, ttl = false },
	      { value = { status = "final", archived = true }, ttl = "24h" },
	      { value = { status = "final" }, ttl = nil },
	    },
	  },
	}`)
	st := newRecStore()
	c := cached.New(cached.WithPolicy(e), cached.WithStore(st), cached.TTL(time.Minute))
	defer c.Close()
	docs := map[int]doc{1: {1, "draft", false}, 2: {2, "final", true}, 3: {3, "final", false}}
	get := cached.Wrap(c, "doc", func(_ context.Context, id int) (doc, error) { return docs[id], nil })
	for id := range docs {
		get(context.Background(), id)
	}
	got := map[string]time.Duration{}
	for _, w := range st.written() {
		got[w.key[strings.LastIndexByte(w.key, ':')+1:]] = w.it.Fresh.Sub(w.it.Written)
	}
	want := map[string]time.Duration{"2": 24 * time.Hour, "3": time.Minute}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stored TTLs by id = %v; want %v (the draft not stored)", got, want)
	}
}

func TestLockFalseSkipsTheLocker(t *testing.T) {
	e := mustLoad(t, `return { cheap = { lock = false } }`)
	l := &countLocker{}
	c := cached.New(cached.WithPolicy(e), cached.WithStore(newRecStore()), cached.WithLocker(l))
	defer c.Close()
	id := func(_ context.Context, id int) (int, error) { return id, nil }
	cheap, costly := cached.Wrap(c, "cheap", id), cached.Wrap(c, "costly", id)
	ctx := context.Background()
	cheap(ctx, 1)
	if n := l.locks.Load(); n != 0 {
		t.Errorf("locks after a miss of cheap = %d; want 0", n)
	}
	costly(ctx, 1)
	if n := l.locks.Load(); n != 1 {
		t.Errorf("locks after a miss of costly = %d; want 1 (no policy: the Cache's locker)", n)
	}
}

func TestDefaultPolicy(t *testing.T) {
	e := mustLoad(t, `return { ["*"] = { bypass = true }, user = { ttl = 60 } }`)
	if r := e.Rules("anything"); r == nil || !r.Bypass {
		t.Errorf("Rules(anything) = %+v; want the * policy's bypass", r)
	}
	if r := e.Rules("user"); r == nil || r.Bypass {
		t.Errorf("Rules(user) = %+v; want user's own policy", r)
	}
}

func TestDurationForms(t *testing.T) {
	for _, tc := range []struct {
		ttl  string
		want time.Duration
	}{
		{`90`, 90 * time.Second},
		{`0.25`, 250 * time.Millisecond},
		{`"90s"`, 90 * time.Second},
		{`"10m"`, 10 * time.Minute},
		{`"1h30m"`, 90 * time.Minute},
		{`"2.5"`, 2500 * time.Millisecond},
	} {
		e := mustLoad(t, `return { f = { jitter = 0, ttl = `+tc.ttl+` } }`)
		st := newRecStore()
		c := cached.New(cached.WithPolicy(e), cached.WithStore(st))
		cached.Wrap(c, "f", func(_ context.Context, id int) (int, error) { return id, nil })(context.Background(), 1)
		c.Close()
		if ws := st.written(); len(ws) != 1 || ws[0].it.Fresh.Sub(ws[0].it.Written) != tc.want {
			t.Errorf("ttl = %s: stored %v; want TTL %v", tc.ttl, ws, tc.want)
		}
	}
}

func TestRejectedScriptsSayWhere(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"syntax", "return {\n  user = { ttl = 10 \n  item = {}\n}", "p.lua:3:"},
		{"unknown setting", "return {\n  user = {\n    tll = 10,\n  },\n}", "p.lua:3: policy \"user\": unknown setting \"tll\" (did you mean \"ttl\"?)"},
		{"bad ttl", "return {\n  user = {\n    ttl = true,\n  },\n}", "p.lua:3: policy \"user\": ttl: want a duration"},
		{"negative", "return {\n  user = { stale_if_error = -1 },\n}", "p.lua:2: policy \"user\": stale_if_error: want a duration >= 0"},
		{"bad unit", "return {\n  user = { ttl = \"10 minutes\" },\n}", "p.lua:2: policy \"user\": ttl: want a duration such as"},
		{"zero ttl", "return { user = { ttl = 0 } }", "ttl: must be positive"},
		{"jitter over 1", "return {\n\n  user = { jitter = 2 } }", "p.lua:3: policy \"user\": jitter: want a fraction between 0 and 1"},
		{"lock type", "return { user = { lock = \"no\" } }", "lock: want true or false"},
		{"key type", "return { user = { key = \"id\" } }", "key: want a function(call)"},
		{"not a table", "return 42", "must return a table of policies"},
		{"policy not a table", "return { user = 5 }", "policy \"user\": want a table of settings"},
		{"top-level error", "local x = nil\nlocal y = x.field\nreturn {}", "p.lua:2:"},
		{"local table", "local P = {}\nP.user = {\n  ttl = {},\n}\nreturn P", "p.lua:3: policy \"user\": ttl:"},
		{"failing example", "return {\n  user = {\n    key = function(call) return 'u' .. call.args[1] end,\n    examples = { { args = {1}, key = 'user:1' } },\n  },\n}", "p.lua:4: policy \"user\": example 1: key returned \"u1\", want \"user:1\""},
		{"example without function", "return { user = { examples = { { key = 'x' } } } }", "expects a key, but the policy has no key function"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := luapolicy.LoadString("p.lua", tc.src)
			if !errors.Is(err, luapolicy.ErrRejected) {
				t.Fatalf("err = %v; want ErrRejected", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q; want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestPerCallFailureFallsBack(t *testing.T) {
	e := mustLoad(t, `return { user = { key = function(call) return call.args[1].nope.x end } }`)
	c := cached.New(cached.WithPolicy(e))
	defer c.Close()
	get := cached.Wrap(c, "user", func(_ context.Context, id int) (int, error) { return id * 10, nil })
	for range 3 {
		if v, err := get(context.Background(), 4); err != nil || v != 40 {
			t.Fatalf("get = %v, %v; want 40, nil: a failing policy falls back", v, err)
		}
	}
	if s := c.Stats().Funcs["user"]; s.PolicyErrors != 3 || s.Loads != 1 {
		t.Errorf("cache: policy errors %d, loads %d; want 3 and 1 (still cached on the function's options)", s.PolicyErrors, s.Loads)
	}
	if s := e.Stats(); s.Errors != 3 || s.Calls != 3 {
		t.Errorf("engine: calls %d errors %d; want 3 and 3", s.Calls, s.Errors)
	}
}

func TestResultsValidated(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, tc := range []struct {
		name, fn, want string
	}{
		{"key table", `key = function() return {} end`, "key must return a string, got table"},
		{"key empty", `key = function() return "" end`, "key returned an empty string"},
		{"key too long", `key = function() return "` + long + `" end`, "key returned 300 bytes, over MaxKeyLen (250)"},
		{"bypass number", `bypass = function() return 1 end`, "bypass must return a boolean, got number"},
		{"ttl negative", `ttl = function() return -5 end`, "ttl: must not be negative"},
		{"ttl table", `ttl = function() return {} end`, "ttl: want a duration, false or nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustLoad(t, `return { f = { `+tc.fn+` } }`)
			r := e.Rules("f")
			var err error
			if r.Decide != nil {
				_, err = r.Decide(context.Background(), cached.Call{Func: "f", Key: "1", Args: []any{1}})
			} else {
				_, err = r.TTL(context.Background(), cached.Call{Func: "f", Key: "1", Args: []any{1}}, 1)
			}
			if !errors.Is(err, luapolicy.ErrScript) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want ErrScript containing %q", err, tc.want)
			}
		})
	}
}

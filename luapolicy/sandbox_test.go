package luapolicy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
)

// decide runs the key and bypass functions of policy f once.
func decide(e *luapolicy.Engine, ctx context.Context, args ...any) (cached.Decision, error) {
	return e.Rules("f").Decide(ctx, cached.Call{Func: "f", Key: "k", Args: args})
}

func TestSandboxGlobals(t *testing.T) {
	e := mustLoad(t, `
	  local names = {}
	  for k in pairs(_G) do names[#names + 1] = k end
	  for k in pairs(string) do names[#names + 1] = "string." .. k end
	  table.sort(names)
	  local list = table.concat(names, " ")
	  return { f = { key = function() return list end } }`, luapolicy.MaxKeyLen(4096))
	d, err := decide(e, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, n := range strings.Fields(d.Key) {
		have[n] = true
	}
	for _, n := range []string{"os", "io", "debug", "package", "coroutine", "channel", "require", "module",
		"load", "loadstring", "loadfile", "dofile", "collectgarbage", "print", "getfenv", "setfenv",
		"newproxy", "_printregs", "string.dump"} {
		if have[n] {
			t.Errorf("%s is reachable from a script", n)
		}
	}
	for _, n := range []string{"pairs", "ipairs", "pcall", "error", "tostring", "tonumber", "type", "select",
		"unpack", "setmetatable", "string", "table", "math", "string.format", "string.gsub", "string.rep"} {
		if !have[n] {
			t.Errorf("%s is missing; scripts need it", n)
		}
	}
}

func TestCallTimeout(t *testing.T) {
	for _, tc := range []struct{ name, fn string }{
		{"loop", `while true do end`},
		{"loop in pcall", `pcall(function() while true do end end) return "escaped"`},
		{"retry after the timeout", `for i = 1, 1e9 do pcall(function() while true do end end) end return "escaped"`},
		{"deep table", `local t = {} for i = 1, 1e12 do t[i] = i end`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustLoad(t, `return { f = { key = function(call) `+tc.fn+` end } }`,
				luapolicy.CallTimeout(5*time.Millisecond), luapolicy.PoolSize(1))
			_, err := decide(e, context.Background())
			if !errors.Is(err, luapolicy.ErrTimeout) {
				t.Fatalf("err = %v; want ErrTimeout", err)
			}
			if s := e.Stats(); s.Timeouts != 1 || s.Errors != 1 || s.States != 0 {
				t.Errorf("stats: timeouts %d errors %d states %d; want 1, 1 and 0 (a state that hit a limit is closed, not reused)", s.Timeouts, s.Errors, s.States)
			}
		})
	}
}

func TestLoadTimeout(t *testing.T) {
	_, err := luapolicy.LoadString("p.lua", "local x = 0\nwhile true do x = x + 1 end\nreturn {}", luapolicy.LoadTimeout(20*time.Millisecond))
	if !errors.Is(err, luapolicy.ErrRejected) || !errors.Is(err, luapolicy.ErrTimeout) || !strings.Contains(err.Error(), "p.lua:2:") {
		t.Errorf("err = %v; want ErrRejected and ErrTimeout at p.lua:2", err)
	}
}

func TestCallerContextStopsARun(t *testing.T) {
	e := mustLoad(t, `return { f = { key = function(call) while true do end end } }`, luapolicy.CallTimeout(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := decide(e, ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v; want context.Canceled: the caller's context ends the run", err)
	}
}

func TestAllocationBombsHitLimits(t *testing.T) {
	for _, tc := range []struct{ name, fn string }{
		{"string.rep", `return string.rep("x", 1e9)`},
		{"method rep", `return ("x"):rep(1e9)`},
		{"doubling concat", `local s = "x" while true do s = s .. s end`},
		{"concat chain", `local s = string.rep("x", 1000) local t = s while true do t = t .. s .. s .. s end`},
		{"format args", `local s = string.rep("x", 600000) return string.format("%s%s", s, s)`},
		{"table.concat", `local s, t = string.rep("x", 100000), {} for i = 1, 100 do t[i] = s end return table.concat(t)`},
		{"gsub expansion", `local s = string.rep("x", 100000) return (string.gsub(s, "x", "yyyyyyyyyyyyyyyyyyyy"))`},
		{"gsub function", `local s = string.rep("x", 100000) return (string.gsub(s, "x", function() return "yyyyyyyyyyyyyyyyyyyy" end))`},
		{"concat past the limit", `local s = string.rep("x", 1048576) return (s .. "x")`},
		{"upper of an argument", `return call.args[1]:upper()`},
		{"many strings", `local s, keep = string.rep("x", 1000000), {} for i = 1, 1e6 do keep[i] = s .. i end`},
		{"in pcall", `pcall(string.rep, "x", 1e9) return "escaped"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := mustLoad(t, `return { f = { key = function(call) `+tc.fn+` end } }`, luapolicy.CallTimeout(time.Minute))
			_, err := decide(e, context.Background(), strings.Repeat("a", 2<<20))
			if !errors.Is(err, luapolicy.ErrMemory) {
				t.Fatalf("err = %v; want ErrMemory", err)
			}
			if s := e.Stats(); s.MemoryLimits != 1 {
				t.Errorf("memory limits = %d; want 1", s.MemoryLimits)
			}
		})
	}
}

func TestFormatWidthBounded(t *testing.T) {
	e := mustLoad(t, `return { f = { key = function(call) return string.format("%099999999d", 1) end } }`)
	if _, err := decide(e, context.Background()); !errors.Is(err, luapolicy.ErrScript) || !strings.Contains(err.Error(), "invalid format") {
		t.Errorf("err = %v; want Lua's invalid format error: widths have two digits at most", err)
	}
}

func TestGiantTableAtLoadHitsTheMemoryBudget(t *testing.T) {
	_, err := luapolicy.LoadString("p.lua", "local t = {}\nfor i = 1, 1e9 do t[i] = {i} end\nreturn {}",
		luapolicy.LoadTimeout(time.Minute), luapolicy.Memory(1<<20, 8<<20))
	if !errors.Is(err, luapolicy.ErrMemory) || !errors.Is(err, luapolicy.ErrRejected) {
		t.Errorf("err = %v; want ErrRejected and ErrMemory", err)
	}
}

func TestDeepRecursionIsAnError(t *testing.T) {
	e := mustLoad(t, `
	  local function down(n) return 1 + down(n + 1) end
	  return { f = { key = function(call) return down(1) end } }`)
	_, err := decide(e, context.Background())
	if !errors.Is(err, luapolicy.ErrScript) || !strings.Contains(err.Error(), "stack overflow") {
		t.Errorf("err = %v; want a stack overflow, as ErrScript", err)
	}
	_, err = luapolicy.LoadString("p.lua", "local function down(n) return 1 + down(n + 1) end\nreturn down(1)")
	if !errors.Is(err, luapolicy.ErrRejected) || !strings.Contains(err.Error(), "stack overflow") {
		t.Errorf("load: err = %v; want a stack overflow, rejected", err)
	}
}

func TestGlobalsFrozenAfterLoad(t *testing.T) {
	e := mustLoad(t, `
	  total = 0 -- the top level may set globals
	  return { f = { key = function(call) counter = 1 return "c" end } }`)
	_, err := decide(e, context.Background())
	if !errors.Is(err, luapolicy.ErrScript) || !strings.Contains(err.Error(), "counter") {
		t.Errorf("err = %v; want an error naming the global", err)
	}
}

func TestStringMetatableLocked(t *testing.T) {
	e := mustLoad(t, `
	  return { f = { key = function(call)
	    local mt = getmetatable("")
	    if type(mt) == "table" then mt.__index = {} end
	    return ("abc"):upper()
	  end } }`)
	for range 2 {
		if d, err := decide(e, context.Background()); err != nil || d.Key != "ABC" {
			t.Fatalf("decide = %+v, %v; want ABC: string methods must survive a script", d, err)
		}
	}
}

func TestConcatBehavesAsLua(t *testing.T) {
	e := mustLoad(t, `
	  local mt = { __concat = function(a, b)
	    local x = type(a) == "table" and a.v or a
	    local y = type(b) == "table" and b.v or b
	    return x .. "+" .. y
	  end }
	  local obj = setmetatable({ v = "o" }, mt)
	  return {
	    f = { key = function(call) return "n" .. 1 .. ":" .. 1.5 .. ":" .. call.args[1] .. ":" .. (obj .. "s") .. ":" .. ("s" .. obj) end },
	    g = { key = function(call) return "x" .. call.args[2] end },
	  }`)
	d, err := decide(e, context.Background(), 10)
	if want := "n1:1.5:10:o+s:s+o"; err != nil || d.Key != want {
		t.Errorf("key = %q, %v; want %q", d.Key, err, want)
	}
	_, err = e.Rules("g").Decide(context.Background(), cached.Call{Func: "g", Args: []any{1}})
	if err == nil || !strings.Contains(err.Error(), "p.lua:10:") || !strings.Contains(err.Error(), "concatenate a nil value") {
		t.Errorf("err = %v; want a concatenation error at p.lua:10", err)
	}
}

func TestStateKeepingTooMuchIsRecycled(t *testing.T) {
	e := mustLoad(t, `
	  local keep = {}
	  return { f = { key = function(call) keep[#keep + 1] = string.rep("x", 10000) return "k" end } }`,
		luapolicy.PoolSize(1), luapolicy.Memory(1<<20, 4<<20))
	for range 2048 {
		if _, err := decide(e, context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if s := e.Stats(); s.Recycled == 0 || s.States > 1 {
		t.Errorf("recycled %d, states %d; want a state recycled (it kept 10 KB per call, over the 4 MiB budget) and at most 1 open", s.Recycled, s.States)
	}
}

func TestPatternWorstCaseBounded(t *testing.T) {
	e := mustLoad(t, `return {
	  f = { key = function(call) local a, b = call.args[1]:match("^(.-):(.-)$") return b end },
	  g = { key = function(call) return tostring(call.args[1]:find(".-.-.-b")) end },
	  h = { key = function(call) return tostring(call.args[1]:find(".-.-.-b", 1, true)) end },
	}`, luapolicy.MaxKeyLen(1<<20))
	long := strings.Repeat("a", 150) + ":" + strings.Repeat("b", 149)
	if d, err := decide(e, context.Background(), long); err != nil || len(d.Key) != 149 {
		t.Errorf("an anchored two-capture match on 300 bytes: %d bytes, %v; want it allowed", len(d.Key), err)
	}
	_, err := e.Rules("g").Decide(context.Background(), cached.Call{Func: "g", Args: []any{strings.Repeat("a", 300)}})
	if !errors.Is(err, luapolicy.ErrTimeout) || !strings.Contains(err.Error(), "may take") {
		t.Errorf("a backtracking pattern on 300 bytes: err = %v; want it refused as ErrTimeout before it runs", err)
	}
	if _, err := e.Rules("h").Decide(context.Background(), cached.Call{Func: "h", Args: []any{strings.Repeat("a", 300)}}); err != nil {
		t.Errorf("a plain find: err = %v; want none (no pattern)", err)
	}
}

func TestIntegerIndexBounded(t *testing.T) {
	for _, fn := range []string{
		`local t = {} t[67108863] = true`,
		`local t, k = {}, 2^22 t[k] = true`,
		`local t = { [2^22] = true }`,
		`local t = {} rawset(t, 2^22, true)`,
		`local t = {} table.insert(t, 2^22, true)`,
	} {
		e := mustLoad(t, `return { f = { key = function(call) `+fn+` return "k" end } }`)
		if _, err := decide(e, context.Background()); !errors.Is(err, luapolicy.ErrMemory) {
			t.Errorf("%s: err = %v; want ErrMemory", fn, err)
		}
	}
	// Ordinary indexing is untouched.
	e := mustLoad(t, `return { f = { key = function(call)
	  local t = {} for i = 1, 100 do t[#t + 1] = i end t[2^40] = 1 t[-5] = 2 t[0.5] = 3
	  return "k" .. #t .. t[2^40] .. t[-5] .. t[0.5] end } }`)
	if d, err := decide(e, context.Background()); err != nil || d.Key != "k100123" {
		t.Errorf("key = %q, %v; want k100123", d.Key, err)
	}
}

func TestTopLevelMustNotDependOnChance(t *testing.T) {
	_, err := luapolicy.LoadString("p.lua", "local r = math.random()\nreturn {}")
	if !errors.Is(err, luapolicy.ErrRejected) || !strings.Contains(err.Error(), "p.lua:1: math.random at the top level") {
		t.Errorf("err = %v; want math.random at the top level rejected at p.lua:1", err)
	}
	_, err = luapolicy.LoadString("p.lua", "return { [tostring({})] = { ttl = 1 } }")
	if !errors.Is(err, luapolicy.ErrRejected) || !strings.Contains(err.Error(), "second run") {
		t.Errorf("err = %v; want a script whose policies differ between runs rejected", err)
	}
	// A per-call function may sample.
	e := mustLoad(t, `local random = math.random
	  return { f = { bypass = function(call) return random() < 2 end } }`)
	if d, err := decide(e, context.Background()); err != nil || !d.Bypass {
		t.Errorf("decide = %+v, %v; want bypass", d, err)
	}
}

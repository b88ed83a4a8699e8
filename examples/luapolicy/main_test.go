package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached/luapolicy"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast are options that make a line every 10ms.
func fast(onReload func(luapolicy.Reload)) options {
	return options{every: 10 * time.Millisecond, poll: 5 * time.Millisecond, latency: time.Millisecond, onReload: onReload}
}

// lineWriter hands each line run prints to the test as it is written.
type lineWriter struct {
	mu  sync.Mutex // protects buf and all
	buf []byte
	all strings.Builder
	ch  chan string
}

func newLineWriter() *lineWriter { return &lineWriter{ch: make(chan string, 10000)} }

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case l.ch <- string(l.buf[:i]):
		default: // the test stopped reading
		}
		l.buf = l.buf[i+1:]
	}
}

func (l *lineWriter) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

var lineRE = regexp.MustCompile(`^v(\d+) ([0-9a-f]{8})  price: +(\d+) calls, +(\d+) loads, +(\d+) hits, +(\d+) bypassed +\(total (\d+) calls, (\d+) loads\)$`)

// line is one report line, parsed.
type line struct {
	version                      int
	calls, loads, hits, bypassed int // in the line's interval
	totalCalls, totalLoads       int
}

func parse(s string) (line, bool) {
	m := lineRE.FindStringSubmatch(s)
	if m == nil {
		return line{}, false
	}
	n := make([]int, 8)
	for i := range n {
		if i == 1 {
			continue // the checksum
		}
		n[i], _ = strconv.Atoi(m[i+1])
	}
	return line{n[0], n[2], n[3], n[4], n[5], n[6], n[7]}, true
}

// waitLine returns the first line that satisfies ok, failing the test after a deadline
// (the program prints a line every 10ms, so it is only reached when the behaviour is
// wrong).
func waitLine(t *testing.T, out *lineWriter, what string, ok func(string) bool) string {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-out.ch:
			if ok(s) {
				return s
			}
		case <-deadline:
			t.Fatalf("no line %s; output:\n%s", what, out.String())
		}
	}
}

func waitReload(t *testing.T, reloads <-chan luapolicy.Reload, out *lineWriter) luapolicy.Reload {
	t.Helper()
	select {
	case r := <-reloads:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("no reload; output:\n%s", out.String())
		return luapolicy.Reload{}
	}
}

// writeFile replaces path's content at once, as an editor's save-by-rename does, so that
// the watcher never reads half a file.
func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestEditWhileRunning starts the program on a caching policy, switches it to bypass by
// editing the file, then saves a broken file: the version and the load counts follow the
// first edit, and the second is rejected without changing either.
func TestEditWhileRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.lua")
	writeFile(t, path, `return { price = { ttl = "1h" } }`)
	out := newLineWriter()
	reloads := make(chan luapolicy.Reload, 10)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, out, path, fast(func(r luapolicy.Reload) { reloads <- r })) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("run = %v; want nil after cancel", err)
		}
	}()

	if r := waitReload(t, reloads, out); r.Err != nil || r.Version != 1 {
		t.Fatalf("first load: %+v; want version 1", r)
	}
	// Cached for an hour: once the four spellings are loaded, calls are hits.
	waitLine(t, out, "on v1 with hits and no loads", func(s string) bool {
		l, ok := parse(s)
		return ok && l.version == 1 && l.hits > 0 && l.loads == 0 && l.bypassed == 0
	})

	writeFile(t, path, `return { price = { bypass = true } }`)
	if r := waitReload(t, reloads, out); r.Err != nil || r.Version != 2 {
		t.Fatalf("reload after the edit: %+v; want version 2", r)
	}
	// Bypassed: every call is a load, none a hit.
	waitLine(t, out, "on v2 where every call loads", func(s string) bool {
		l, ok := parse(s)
		return ok && l.version == 2 && l.calls > 0 && l.loads == l.calls && l.bypassed == l.calls && l.hits == 0
	})

	writeFile(t, path, "return {\n  price = { ttl = \"soon\" },\n}\n")
	r := waitReload(t, reloads, out)
	if r.Err == nil || r.Version != 2 {
		t.Fatalf("reload of a broken file: %+v; want an error, still on version 2", r)
	}
	want := `policy rejected: ` + path + `:2: policy "price": ttl: want a duration such as "90s" or "10m", got "soon"; still on v2`
	waitLine(t, out, "saying why the version was rejected", func(s string) bool { return s == want })
	waitLine(t, out, "still on v2, still bypassing", func(s string) bool {
		l, ok := parse(s)
		return ok && l.version == 2 && l.calls > 0 && l.bypassed == l.calls
	})
}

// TestKeyFunction: a key function that lower-cases the SKU makes "SKU-1" and "sku-1"
// one entry in the store, so the four spellings the program asks for cost two loads
// instead of four.
func TestKeyFunction(t *testing.T) {
	for _, tc := range []struct {
		name, policy string
		loads        int
	}{
		{"default key", `return { price = { ttl = "1h" } }`, 4},
		{"lower-cased", `return { price = { ttl = "1h", key = function(call) return string.lower(call.args[1]) end } }`, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "policy.lua")
			writeFile(t, path, tc.policy)
			out := newLineWriter()
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- run(ctx, out, path, fast(nil)) }()
			// Each spelling has been asked for twice by the time 8 calls are done.
			s := waitLine(t, out, "after 8 calls", func(s string) bool { l, ok := parse(s); return ok && l.totalCalls >= 8 })
			cancel()
			if err := <-errc; err != nil {
				t.Fatalf("run = %v", err)
			}
			if l, _ := parse(s); l.totalLoads != tc.loads {
				t.Errorf("%q: %d loads; want %d", s, l.totalLoads, tc.loads)
			}
		})
	}
}

// TestDefaultPolicy: with no file at the path, the program writes its default policy
// there, and that policy loads.
func TestDefaultPolicy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.lua")
	out := newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, out, path, fast(nil)) }()
	waitLine(t, out, "on v1", func(s string) bool { l, ok := parse(s); return ok && l.version == 1 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("run = %v", err)
	}
	if !strings.Contains(out.String(), path+": wrote the default policy") {
		t.Errorf("output does not say it wrote %s:\n%s", path, out.String())
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != defaultPolicy {
		t.Errorf("%s holds %q, %v; want the default policy", path, got, err)
	}
	// Each edit the default policy suggests must load too.
	for _, edit := range []struct{ old, new string }{
		{`ttl = "2s"`, `ttl = "200ms"`},
		{`ttl = "2s"`, `bypass = true`},
		{`-- key = function`, `key = function`},
	} {
		src := strings.Replace(defaultPolicy, edit.old, edit.new, 1)
		if src == defaultPolicy {
			t.Errorf("the default policy has no %q to edit", edit.old)
			continue
		}
		e, err := luapolicy.LoadString("policy.lua", src)
		if err != nil {
			t.Errorf("the suggested edit %q does not load: %v", edit.new, err)
			continue
		}
		e.Close()
	}
}

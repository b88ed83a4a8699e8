package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestGeneratedFileFresh runs cachedgen as go generate does and fails if the committed
// userrepo_cached.go differs from what it writes: after a change to the annotations or to
// the generator, run go generate. It generates in a copy of the package made of repo.go
// alone, in a temporary module that requires what this one does: repo.go declares all
// that the interface needs, and the generator, which reads the package without its
// output file, must not see the committed file nor the files that call
// NewCachedUserRepo (they do not compile without it).
func TestGeneratedFileFresh(t *testing.T) {
	dir := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	const replace = "replace github.com/cachedgo/cached => ../.."
	if !bytes.Contains(mod, []byte(replace)) {
		t.Fatalf("go.mod has no %q line", replace)
	}
	mod = bytes.Replace(mod, []byte(replace), []byte("replace github.com/cachedgo/cached => "+root), 1)
	copyFile(t, "go.sum", filepath.Join(dir, "go.sum"))
	copyFile(t, "repo.go", filepath.Join(dir, "repo.go"))
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), mod, 0o644); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("go", "run", "github.com/cachedgo/cached/decorator/cmd/cachedgen", "-type", "UserRepo")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cachedgen: %v\n%s", err, b)
	}
	want, err := os.ReadFile(filepath.Join(dir, "userrepo_cached.go"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("userrepo_cached.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("userrepo_cached.go is not what cachedgen writes today: run go generate in examples/repository\n%s",
			firstDiff(string(got), string(want)))
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(g), len(w)) {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  committed: " + gl + "\n  generated: " + wl
		}
	}
	return "(no line differs)"
}

// TestRunSeedsOnce runs the program twice on one database, with the HTTP tier and
// without: the first run seeds it, the second finds the users and seeds nothing. Each run
// prints the burst's table and the demo, which checks its own answers: the user by the
// new email after the update, 404 for the old one.
func TestRunSeedsOnce(t *testing.T) {
	cfg := config{db: filepath.Join(t.TempDir(), "users.db"), users: 50, burst: 400, clients: 8, seed: 7}
	for i, tc := range []struct {
		want, tier string
		httpCache  bool
	}{
		{"seeded 50 users", "the HTTP tier answered", true},
		{"found 50 users", "no HTTP tier (-httpcache=false)", false},
	} {
		cfg.httpCache = tc.httpCache
		want := tc.want
		var out bytes.Buffer
		if err := run(context.Background(), &out, cfg); err != nil {
			t.Fatalf("run %d: %v\n%s", i+1, err, out.String())
		}
		printed := out.String()
		for _, want := range []string{"database " + cfg.db + ": " + want + "\n", "\n  " + tc.tier} {
			if !strings.Contains(printed, want) {
				t.Errorf("run %d printed no %q:\n%s", i+1, want, printed)
			}
		}
		for _, line := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^burst: 400 GET requests, 8 at a time, in \S+: `),
			regexp.MustCompile(`(?m)^  GET /users/\{id\} +\d+   GetUser +\d+ +\d+$`),
			regexp.MustCompile(`(?m)^  all +400 +\d+ +\d+$`),
			regexp.MustCompile(`(?m)^  user +\d+ +\d+ +\d+ `),
			regexp.MustCompile(`(?m)^GET /users\?email=user\d+%40example\.(com|org) +404 `),
		} {
			if !line.MatchString(printed) {
				t.Errorf("run %d printed no line matching %s:\n%s", i+1, line, printed)
			}
		}
	}
}

// cancelOn is a Writer that keeps what is written and calls cancel once it has seen
// marker.
type cancelOn struct {
	mu     sync.Mutex // protects buf
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (w *cancelOn) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if strings.Contains(w.buf.String(), w.marker) {
		w.cancel()
	}
	return len(p), nil
}

// TestServe: with -serve the program prints the curl commands after the demo and serves
// until its context ends, then returns nil.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{marker: "until interrupted; try:", cancel: cancel}
	cfg := config{db: filepath.Join(t.TempDir(), "users.db"), users: 20, burst: 50, clients: 4, seed: 1, serve: "127.0.0.1:0", httpCache: true}
	if err := run(ctx, out, cfg); err != nil {
		t.Fatalf("run = %v; want nil once its context ends", err)
	}
	m := regexp.MustCompile(`serving on (http://127\.0\.0\.1:\d+) until interrupted`).FindStringSubmatch(out.buf.String())
	if m == nil {
		t.Fatalf("no address printed:\n%s", out.buf.String())
	}
	if want := "curl -si " + m[1] + "/users/1 "; !strings.Contains(out.buf.String(), want) {
		t.Errorf("no %q in:\n%s", want, out.buf.String())
	}
}

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestReadmeExcerpts: the README's excerpts of the generated file, the Go blocks that
// start with r. or a method of CachedUserRepo, are in userrepo_cached.go as they are:
// each paragraph of such a block, its lines' indentation aside.
func TestReadmeExcerpts(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	generated, err := os.ReadFile("userrepo_cached.go")
	if err != nil {
		t.Fatal(err)
	}
	dedent := func(s string) string { return regexp.MustCompile(`(?m)^\t+`).ReplaceAllString(s, "") }
	file := dedent(string(generated))
	n := 0
	for _, b := range regexp.MustCompile("(?s)```go\n(.*?)```").FindAllStringSubmatch(string(readme), -1) {
		block := b[1]
		if !strings.HasPrefix(block, "r.") && !strings.HasPrefix(block, "func (r *CachedUserRepo)") {
			continue
		}
		for para := range strings.SplitSeq(block, "\n\n") {
			n++
			if !strings.Contains(file, dedent(para)) {
				t.Errorf("the README shows, as generated, what userrepo_cached.go does not have:\n%s", para)
			}
		}
	}
	if n < 6 {
		t.Errorf("%d excerpts of the generated file in the README; want 6 at least, one per method", n)
	}
}

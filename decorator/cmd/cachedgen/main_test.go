package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRun: the command writes the decorator where asked, reports mistakes with their
// position and exit status 1, and bad usage with 2.
func TestRun(t *testing.T) {
	out := filepath.Join(t.TempDir(), "store_cached.go")
	var stderr bytes.Buffer
	if code := run([]string{"-dir", "../../internal/gen/testdata/edge", "-type", "Store", "-output", out}, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	src, err := os.ReadFile(out)
	if err != nil || !bytes.Contains(src, []byte("func NewCachedStore(")) {
		t.Fatalf("output: %v\n%s", err, src)
	}

	dir := t.TempDir()
	for name, s := range map[string]string{
		"go.mod": "module example.com/bad\n\ngo 1.26\n",
		"bad.go": "package bad\n\nimport \"context\"\n\ntype Repo interface {\n\t//cached:get ttl=soon\n\tGet(ctx context.Context, id int) (string, error)\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	stderr.Reset()
	if code := run([]string{"-dir", dir, "-type", "Repo"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "bad.go:6:2: cached:get: ttl=soon") {
		t.Fatalf("bad annotation: exit %d, stderr %q", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "repo_cached.go")); !os.IsNotExist(err) {
		t.Fatalf("a file was written despite the error: %v", err)
	}
	for _, args := range [][]string{{}, {"-type"}, {"-type", "X", "extra"}, {"-nope"}} {
		stderr.Reset()
		if code := run(args, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage: cachedgen") {
			t.Errorf("run(%q): exit %d, stderr %q; want 2 and the usage", args, code, stderr.String())
		}
	}
}

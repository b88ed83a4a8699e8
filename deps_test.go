package cached_test

import (
	"go/build"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cachedgo/cached"

// allowedDeps states, for each package of the module, the non-standard imports it may
// have (tests excluded). The root imports no integration, and each integration imports
// only the root and its own library, so a user who never imports lock never links etcd.
var allowedDeps = map[string][]string{
	".":                      {module + "/jitter", "github.com/maypok86/otter/v2", "golang.org/x/sync"},
	"jitter":                 {},
	"examples/quickstart":    {module},
	"storetest":              {module},
	"store/memcached":        {module, "github.com/bradfitz/gomemcache"},
	"internal/memcachedtest": {},
}

func TestDependencyDirection(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bench") {
			return filepath.SkipDir // bench is a module of its own
		}
		pkg, err := build.ImportDir(path, 0)
		if _, ok := err.(*build.NoGoError); ok {
			return nil
		} else if err != nil {
			return err
		}
		allowed, ok := allowedDeps[filepath.ToSlash(path)]
		if !ok {
			t.Errorf("package %s is not listed in allowedDeps: state what it may import", path)
			return nil
		}
		seen[filepath.ToSlash(path)] = true
		for _, imp := range pkg.Imports {
			if isStd(imp) {
				continue
			}
			if !slices.ContainsFunc(allowed, func(a string) bool { return imp == a || strings.HasPrefix(imp, a+"/") }) {
				t.Errorf("package %s imports %s; allowed: %v", path, imp, allowed)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for p := range allowedDeps {
		if !seen[p] {
			t.Errorf("allowedDeps lists %s, which has no Go package", p)
		}
	}
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

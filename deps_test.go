package cached_test

import (
	"errors"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/cachedgo/cached"

// allowedDeps states, for each package of the module, the non-standard imports it may
// have (tests excluded): an exact import path, or a path ending in "/..." for it and the
// packages under it. The root imports no integration, and each integration imports only
// the root, the internal helpers it needs and its own library, so a user who never
// imports lock never links etcd.
var allowedDeps = map[string][]string{
	".":                          {module + "/jitter", "github.com/maypok86/otter/v2/...", "golang.org/x/sync/..."},
	"jitter":                     {},
	"examples/quickstart":        {module},
	"examples/fleet":             {module, module + "/bus", module + "/lock", module + "/store/memcached", "go.etcd.io/etcd/client/v3/...", "go.uber.org/zap"},
	"examples/luapolicy":         {module, module + "/luapolicy"},
	"storetest":                  {module},
	"locktest":                   {module},
	"bustest":                    {module},
	"store/memcached":            {module, module + "/internal/breaker", "github.com/bradfitz/gomemcache/..."},
	"lock":                       {module, module + "/internal/breaker", "go.etcd.io/etcd/client/v3/...", "go.etcd.io/etcd/api/v3/..."},
	"bus":                        {module, "go.etcd.io/etcd/client/v3/...", "go.etcd.io/etcd/api/v3/..."},
	"bloom":                      {module, "github.com/bits-and-blooms/bloom/v3"},
	"luapolicy":                  {module, module + "/jitter", "github.com/yuin/gopher-lua/...", "github.com/go-chi/chi/v5", "go.etcd.io/etcd/client/v3"},
	"middleware":                 {module, module + "/jitter", "github.com/go-chi/chi/v5", "github.com/go-chi/chi/v5/middleware"},
	"examples/httpcache":         {module, module + "/middleware", "github.com/go-chi/chi/v5"},
	"decorator":                  {module, module + "/jitter"},
	"decorator/internal/gen":     {"golang.org/x/tools/go/packages"},
	"decorator/cmd/cachedgen":    {module + "/decorator/internal/gen"},
	"decorator/internal/gentest": {module, module + "/decorator"},
	"internal/breaker":           {},
	"internal/proc":              {},
	"internal/memcachedtest":     {module + "/internal/proc"},
	"internal/etcdtest":          {module + "/internal/proc", "go.etcd.io/etcd/client/v3/...", "go.uber.org/zap"},
}

func TestDependencyDirection(t *testing.T) {
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if skip, err := skipDir(path, d); skip || err != nil {
			return err
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
			if !slices.ContainsFunc(allowed, func(a string) bool { return allows(a, imp) }) {
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

// skipDir reports whether TestDependencyDirection leaves the directory out (returning
// filepath.SkipDir as the error then): hidden directories, testdata, and any directory
// with a go.mod of its own (bench, examples/repository). Such a directory is another
// module, made to keep its dependencies (peers, a SQLite driver) out of this module's
// go.mod; no program that imports this module links it, and `go test ./...` here skips it
// as well, so its imports are its own business.
func skipDir(path string, d fs.DirEntry) (bool, error) {
	if path == "." {
		return false, nil
	}
	if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
		return true, filepath.SkipDir
	}
	if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
		return true, filepath.SkipDir
	} else if !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	return false, nil
}

func isStd(path string) bool { return !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") }

// allows reports whether the allowedDeps entry a admits the import path imp.
func allows(a, imp string) bool {
	if tree, ok := strings.CutSuffix(a, "/..."); ok {
		return imp == tree || strings.HasPrefix(imp, tree+"/")
	}
	return imp == a
}

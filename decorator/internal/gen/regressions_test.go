package gen

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rvBuild writes src as the decorator of the module newModule made in dir, points the
// module at this repository and builds it, returning the compiler's complaint, if any.
func rvBuild(t *testing.T, dir string, src []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "repo_cached.go"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	mod := "module example.com/bad\n\ngo 1.26\n\nrequire github.com/cachedgo/cached v0.0.0\n\nreplace github.com/cachedgo/cached => " + root + "\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(mod), 0o644); err != nil {
		t.Fatal(err)
	}
	sum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.sum"), sum, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out) + err.Error()
	}
	return ""
}

// rvGenerateBuilds generates the decorator of Repo in a module with body and requires
// that either the generator reports an error or its output compiles.
func rvGenerateBuilds(t *testing.T, body string) []byte {
	t.Helper()
	dir := newModule(t, body)
	_, src, err := Generate(Config{Dir: dir, Type: "Repo"})
	if err != nil {
		if strings.Contains(err.Error(), "a bug in cachedgen") || !strings.Contains(err.Error(), "repo.go:") {
			t.Fatalf("the generator failed on its own output instead of reporting the annotation: %v", err)
		}
		t.Logf("generator error (acceptable): %v", err)
		return nil
	}
	if msg := rvBuild(t, dir, src); msg != "" {
		t.Fatalf("the generator reported nothing, but its output does not compile:\n%s\n--- generated:\n%s", msg, src)
	}
	return src
}

// TestRegressionBuildHelper: the helper itself builds a plain generated decorator (so that the
// failures below are about the generated code, not the set-up).
func TestRegressionBuildHelper(t *testing.T) {
	if src := rvGenerateBuilds(t, `
type Repo interface {
	//cached:get name=user
	Get(ctx context.Context, id int64) (string, error)
}`); src == nil {
		t.Fatal("no output")
	}
}

// TestRegressionUnexportedMethodClashesWithItsField: an interface of the package itself may
// have unexported methods (the generator accepts them). The field of a cached function is
// named after its name, by default the method's: a get method "get" gets a field "get" in
// CachedRepo, which also has a method "get"; a batch method's field is lowerFirst(method),
// the method's own name when it is unexported. Either way the output does not compile.
func TestRegressionUnexportedMethodClashesWithItsField(t *testing.T) {
	t.Run("get", func(t *testing.T) {
		rvGenerateBuilds(t, `
type Repo interface {
	//cached:get
	get(ctx context.Context, id int64) (string, error)
}`)
	})
	t.Run("batch", func(t *testing.T) {
		rvGenerateBuilds(t, `
type Repo interface {
	//cached:batch name=user
	getMany(ctx context.Context, ids []int64) (map[int64]string, error)
}`)
	})
}

// TestRegressionLiteralInGetKey: key= accepts literals (the evaluator takes integer, string and
// rune literals, and unkeyable finds an untyped string keyable), so key=id,"v2" passes the
// checks; the generated key struct then has a field of type "untyped string", which is
// not Go, and the user is told "generated code does not parse (a bug in cachedgen)"
// instead of what is wrong with the annotation (or, better, given a key of type string).
func TestRegressionLiteralInGetKey(t *testing.T) {
	rvGenerateBuilds(t, `
type Repo interface {
	//cached:get name=user key=id,"v2"
	Get(ctx context.Context, id int64) (string, error)
}`)
}

// TestRegressionDeclaredNamesClash: the generator picks fresh names for its helper types and
// imports, but not for CachedRepo and NewCachedRepo: a package that already declares one
// (a hand-written CachedRepo from before, another generator's output) gets a file that
// does not compile, with no error from the generator.
func TestRegressionDeclaredNamesClash(t *testing.T) {
	rvGenerateBuilds(t, `
// CachedRepo is a hand-written wrapper the package had before.
type CachedRepo struct{ Repo }

type Repo interface {
	//cached:get name=user
	Get(ctx context.Context, id int64) (string, error)
}`)
}

// TestRegressionEmbeddedAnnotationsAreNotSilentlyDropped: the annotations of a method declared
// in an embedded interface of the same package are read by nobody: the method is written
// as a pass-through and the generator says nothing. A user who splits UserRepo into
// UserReader and UserWriter and embeds both gets no caching and no invalidation. The
// generator should either honour them or report them.
func TestRegressionEmbeddedAnnotationsAreNotSilentlyDropped(t *testing.T) {
	dir := newModule(t, `
type Reader interface {
	//cached:get name=user
	Get(ctx context.Context, id int64) (string, error)
}

type Repo interface {
	Reader
	Ping(ctx context.Context) error
}`)
	_, src, err := Generate(Config{Dir: dir, Type: "Repo"})
	if err != nil {
		return // reported: fine
	}
	if bytes.Contains(src, []byte("// Get passes through.")) || !strings.Contains(string(src), `"user"`) {
		t.Fatalf("Reader.Get is annotated cached:get, but the decorator passes it through without a word:\n%s", src)
	}
}

// TestRegressionParameterShadowsAnImportNamedDuringTheChecks: render reserves the parameters'
// names before naming imports, but check has already named the decorator import (for
// tags, evict tags=) and the cached, errors and time imports (for ttl=, notfound=). A
// parameter with one of those names then shadows the import wherever generated code uses
// it in the parameter's scope: the tags closure of a get (decorator.Key(decorator)), or a
// write's cache calls.
func TestRegressionParameterShadowsAnImportNamedDuringTheChecks(t *testing.T) {
	t.Run("tags closure", func(t *testing.T) {
		rvGenerateBuilds(t, `
type Repo interface {
	//cached:get name=user
	//cached:tags user:{decorator}
	Get(ctx context.Context, decorator int64) (string, error)
}`)
	})
	t.Run("write", func(t *testing.T) {
		rvGenerateBuilds(t, `
type Repo interface {
	//cached:get name=user
	//cached:tags user:{id}
	Get(ctx context.Context, id int64) (string, error)
	//cached:evict tags=user:{decorator}
	Touch(ctx context.Context, decorator int64) error
}`)
	})
}

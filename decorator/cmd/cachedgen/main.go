// Command cachedgen writes a cached decorator for an annotated interface.
//
// Usage, beside the interface (the package in the current directory):
//
//	//go:generate go run github.com/cachedgo/cached/decorator/cmd/cachedgen -type UserRepo
//
// writes userrepo_cached.go with CachedUserRepo, which implements UserRepo, and
// NewCachedUserRepo(c *cached.Cache, next UserRepo, opts ...decorator.Option).
//
// Flags:
//
//	-type name   the interface (required)
//	-output file the file to write (default: lower(name)_cached.go)
//	-dir dir     the package's directory (default: the current one)
//
// # Annotations
//
// Annotations are lines of a method's doc comment, written as directives (no space after
// //). Options are key=value, separated by spaces. A method without annotations passes
// through unchanged.
//
//	//cached:get [name=N] [ttl=D] [negative=D] [notfound=ErrX] [key=E,...]
//
// A cached read. The method must be func(ctx context.Context, args...) (V, error). name
// (default: the method's name) names the cached function in keys, stats and policies;
// ttl and negative set cached.TTL and cached.NegativeTTL (Go durations: 10m, 1h30m);
// notfound names an error variable (ErrNotFound, sql.ErrNoRows) whose matches are cached as
// not-found results, replayed as errors matching it. The key is the arguments after ctx:
// none, one, two, or more as a composite key; each must be a string, integer or bool (or a
// type with one as its underlying type), a fmt.Stringer or an encoding.TextMarshaler.
// key= replaces them by expressions naming fields of the arguments (key=q.OrgID,q.Name):
// calls with equal keys share one cached value.
//
//	//cached:batch [name=N] [ttl=D] [negative=D] [notfound=ErrX]
//
// A cached batch read: func(ctx context.Context, keys []K) (map[K]V, error), through
// cached.WrapBatch's engine. Keys left out of the map do not exist. With the name of a
// get method keyed by one K giving V, both share one cached function.
//
//	//cached:tags T [T...]
//
// On a get (or a batch without a get): the tags of each value, templates whose {E} parts
// are expressions of the arguments and of result, the method's value: user:{id},
// user:{result.ID}. For a batch, key is the key. A write that invalidates a tag
// invalidates every value tagged with it.
//
//	//cached:evict [name=N key=E,...] [tags=T,...] [before=true]
//
// After the method returns without error, invalidate the key of the cached function N
// (key= has one expression per key part; a slice of keys evicts each) and the tags. E may
// name the arguments and result, the method's first result. before=true evicts before the
// call, whatever it returns. A method may carry several evict and put lines.
//
//	//cached:put name=N key=E,... [value=E]
//
// After the method returns without error, store a value as N's value for the key: value=,
// or by default the method's first result when it is a value of N, or its one argument
// that is.
//
// Expressions are a name followed by fields and method calls without arguments: id,
// u.ID, q.Filter.Org, u.Key(). They are type-checked when the generator runs, and every
// mistake is reported as file:line:col.
//
// Cache writes after a call run under the call's context without its cancellation. Their
// failures never change the method's result: see decorator.OnError.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cachedgo/cached/decorator/internal/gen"
)

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

// run is the command with its arguments; it returns the exit status: 0, 1 for a failure
// (the annotations' mistakes, one per line, as file:line:col), 2 for bad usage.
func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("cachedgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg gen.Config
	fs.StringVar(&cfg.Type, "type", "", "the interface to decorate (required)")
	fs.StringVar(&cfg.Output, "output", "", "the file to write (default: lower(type)_cached.go)")
	fs.StringVar(&cfg.Dir, "dir", "", "the package's directory (default: the current one)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cachedgen -type Interface [-output file] [-dir dir]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if cfg.Type == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	path, src, err := gen.Generate(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "cachedgen:", err)
		return 1
	}
	if err := os.WriteFile(path, src, 0o644); err != nil {
		fmt.Fprintln(stderr, "cachedgen:", err)
		return 1
	}
	return 0
}

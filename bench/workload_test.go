package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/zeromicro/go-zero/core/logx"
)

// User is the cached value: about 100 bytes, counting its string payloads (see TestUserSize).
//
// Every contender caches a *User, as a service caching rows would: the values are built
// once, in users, so that no loader allocates and the allocations a benchmark reports are
// those of the contender.
type User struct {
	ID      int64
	Name    string
	Email   string
	Age     int
	Created time.Time
	Score   float64
	Tags    [4]int32
}

const (
	// hotKeys is the number of keys BenchmarkHit reads, all of them loaded before timing.
	hotKeys = 4096
	hotMask = hotKeys - 1

	// capacity is the entry limit given to every contender that takes one.
	capacity = 10_000

	// ttl is the time to live given to every contender that takes one.
	ttl = 5 * time.Minute
)

var (
	// ids are the hot keys. They are spread out as database ids are; id&hotMask is still
	// a bijection on them, because the multiplier is odd. All have 10 digits, so that a
	// contender with string keys allocates the same for each: strconv returns ids below 100
	// without allocating, and testing truncates allocs/op, so one such id among 4096 would
	// make 2 allocations a read show as 1.
	ids [hotKeys]int64

	// users holds the pre-built values: users[id&hotMask] is the value of id.
	users [hotKeys]*User
)

func init() {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range ids {
		id := 1_000_000_000 + int64(i)*1_000_003
		ids[i] = id
		// Name shares Email's bytes, so a User carries 9 bytes of string payload.
		email := fmt.Sprintf("u%03x@x.io", i)
		users[id&hotMask] = &User{
			ID:      id,
			Name:    email[:4],
			Email:   email,
			Age:     20 + i%50,
			Created: created.Add(time.Duration(i) * time.Minute),
			Score:   float64(i) / 7,
			Tags:    [4]int32{int32(i), int32(i + 1), int32(i + 2), int32(i + 3)},
		}
	}
}

// want returns the pre-built value for id. For the cold keys of BenchmarkStorm, which are
// not hot keys, it is the value of the hot key sharing id's slot: the benchmarks compare
// pointers, not IDs.
func want(id int64) *User { return users[id&hotMask] }

// getFunc is a contender's read-through get: it returns the value of id, loading it on a miss.
type getFunc = func(ctx context.Context, id int64) (*User, error)

// loadFunc is the loader a contender calls on a miss.
type loadFunc = func(ctx context.Context, id int64) (*User, error)

// A contender is one cache under test.
type contender struct {
	name string

	// coalesces reports whether the contender has a loader that concurrent misses share, so
	// that it takes part in BenchmarkStorm. The floors (syncmap, mutexmap) do not.
	coalesces bool

	// open returns a new, empty instance that loads missing keys with load, and a close
	// function that stops whatever goroutines the instance started, where it has a way.
	// If open is nil, the contender is skipped.
	open func(load loadFunc) (get getFunc, close func() error)
}

// contenders returns every contender, cached first.
func contenders() []contender {
	return []contender{
		cachedContender(),
		otterContender(),
		sturdycContender(),
		gozeroContender(),
		singleflightMapContender(),
		syncMapContender(),
		mutexMapContender(),
	}
}

// open opens c for b, or skips b when c cannot run, and closes it when b ends.
func open(tb testing.TB, c contender, load loadFunc) getFunc {
	tb.Helper()
	if c.open == nil {
		tb.Skipf("%s is not built", c.name)
	}
	get, closeFn := c.open(load)
	tb.Cleanup(func() {
		if err := closeFn(); err != nil {
			tb.Errorf("%s: Close: %v", c.name, err)
		}
	})
	return get
}

var errMismatch = errors.New("wrong value")

// check returns an error unless get returned the value of id.
func check(id int64, u *User, err error) error {
	if err != nil {
		return err
	}
	if u != want(id) {
		return errMismatch
	}
	return nil
}

func TestMain(m *testing.M) {
	// go-zero's collection.Cache logs its hit ratio once a minute; on stdout, such a line
	// would cut a benchmark's result line in two, and benchstat would drop the result.
	logx.DisableStat()
	os.Exit(m.Run())
}

func TestUserSize(t *testing.T) {
	u := users[0]
	size := int(unsafe.Sizeof(*u)) + len(u.Email) // Name is a prefix of Email.
	if size < 90 || size > 110 {
		t.Errorf("a User takes %d bytes; want about 100", size)
	}
}

func TestContenders(t *testing.T) {
	ctx := context.Background()
	for _, c := range contenders() {
		t.Run(c.name, func(t *testing.T) {
			var loads atomic.Int64
			get := open(t, c, func(_ context.Context, id int64) (*User, error) {
				loads.Add(1)
				return want(id), nil
			})
			for range 2 {
				for _, id := range ids[:64] {
					u, err := get(ctx, id)
					if err := check(id, u, err); err != nil {
						t.Fatalf("get(%d): %v", id, err)
					}
				}
			}
			if n := loads.Load(); n != 64 {
				t.Errorf("got %d loads; want 64", n)
			}
		})
	}
}

package memcachedtest_test

import (
	"fmt"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached/internal/memcachedtest"
)

// A real memcached for the length of a test (Start(t) stops it when t ends).
func ExampleLaunch() {
	srv, err := memcachedtest.Launch()
	if err != nil {
		fmt.Println(err) // memcached is not installed (make test installs it: ...)
		return
	}
	defer srv.Stop()
	mc := memcache.New(srv.Addr)
	mc.Set(&memcache.Item{Key: "k", Value: []byte("v")})
	it, err := mc.Get("k")
	fmt.Println(string(it.Value), err)
	// Output: v <nil>
}

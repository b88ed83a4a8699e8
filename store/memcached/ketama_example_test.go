package memcached_test

import (
	"fmt"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachedgo/cached/store/memcached"
)

// A PHP client configured with
//
//	$m->setOption(Memcached::OPT_LIBKETAMA_COMPATIBLE, true);
//	$m->addServers([["127.0.0.1", 11211], ["127.0.0.2", 11211], ["127.0.0.3", 11211]]);
//
// sends every key to the same server as this Go client (these four keys
// included, as checked with PHP).
func ExampleNewKetama() {
	sel, err := memcached.NewKetama("127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211")
	if err != nil {
		panic(err)
	}
	client := memcache.NewFromSelector(sel) // no connection is made until a call
	_ = client

	for _, key := range []string{"user:1", "user:2", "user:3", "session:abc"} {
		addr, _ := sel.PickServer(key)
		fmt.Println(key, "->", addr)
	}
	// Output:
	// user:1 -> 127.0.0.3:11211
	// user:2 -> 127.0.0.1:11211
	// user:3 -> 127.0.0.2:11211
	// session:abc -> 127.0.0.3:11211
}

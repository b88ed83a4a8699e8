package etcdtest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachedgo/cached/internal/etcdtest"
)

// A real etcd for the length of a test (Start(t) stops it when t ends), here outside one.
func ExampleLaunch() {
	srv, err := etcdtest.Launch()
	if err != nil {
		fmt.Println(err) // etcd is not installed (make test installs it: ...)
		return
	}
	defer srv.Close()
	cli, err := srv.NewClient()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cli.Put(ctx, "k", "v")
	resp, err := cli.Get(ctx, "k")
	fmt.Println(string(resp.Kvs[0].Value), err)
	// Output: v <nil>
}

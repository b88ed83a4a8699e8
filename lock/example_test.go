package lock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/lock"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// A Cache whose misses take an etcd lock: across a fleet, one instance loads a key while
// the others wait for it (with a Store they share, they then read its value).
func ExampleNewEtcd() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, Logger: zap.NewNop()})
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	l, err := lock.NewEtcd(cli, lock.TTL(10*time.Second))
	if err != nil {
		panic(err)
	}
	defer l.Close()

	c := cached.New(cached.WithLocker(l), cached.LockTimeout(3*time.Second))
	defer c.Close()
	getUser := cached.Wrap(c, "user", func(ctx context.Context, id int) (string, error) {
		return fmt.Sprintf("user %d", id), nil
	})
	name, err := getUser(context.Background(), 42)
	fmt.Println(name, err)
	fmt.Println("locks taken:", l.Stats().Acquired)
	// Output:
	// user 42 <nil>
	// locks taken: 1
}

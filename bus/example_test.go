package bus_test

import (
	"context"
	"fmt"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Example shows two instances on one etcd: an Invalidate on one drops the key from the
// other's in-process tier.
func Example() {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{srv.Endpoint}, // your etcd
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	// One bus per instance (here, two in one process).
	busA, _ := bus.NewEtcd(cli, bus.Prefix("/example/bus/"))
	defer busA.Close()
	busB, _ := bus.NewEtcd(cli, bus.Prefix("/example/bus/"))
	defer busB.Close()

	a := cached.New(cached.WithBus(busA))
	defer a.Close()
	b := cached.New(cached.WithBus(busB))
	defer b.Close()
	price := map[string]int{"apple": 1}
	load := func(_ context.Context, item string) (int, error) { return price[item], nil }
	priceA := cached.NewFunc(a, "price", load)
	priceB := cached.NewFunc(b, "price", load)

	ctx := context.Background()
	v, _ := priceB.Get(ctx, "apple") // loaded, then served from b's in-process tier
	fmt.Println("b:", v)

	// Subscribed after b's Cache: called once b has dropped the key.
	dropped := make(chan struct{})
	busB.Subscribe(func(m cached.Message) {
		if m.Topic == cached.TopicInvalidate && m.Source == a.ID() {
			close(dropped)
		}
	})
	price["apple"] = 2
	if err := priceA.Invalidate(ctx, "apple"); err != nil {
		panic(err)
	}
	<-dropped
	v, _ = priceB.Get(ctx, "apple")
	fmt.Println("b after a's Invalidate:", v)
	// Output:
	// b: 1
	// b after a's Invalidate: 2
}

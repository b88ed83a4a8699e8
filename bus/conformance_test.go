package bus_test

import (
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/bustest"
)

// TestConformance holds the etcd bus to the cached.Bus contract: two buses on two
// clients of one etcd, sharing a prefix.
func TestConformance(t *testing.T) {
	bustest.Run(t, func(t *testing.T) (a, b cached.Bus) {
		p := bus.Prefix(prefix(t))
		a, _ = newBus(t, srv, p)
		b, _ = newBus(t, srv, p)
		return a, b
	})
}

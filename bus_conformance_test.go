package cached_test

import (
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bustest"
)

// TestLocalBusConformance holds cached.LocalBus to the cached.Bus contract: two Caches
// sharing one LocalBus are two instances on one medium.
func TestLocalBusConformance(t *testing.T) {
	bustest.Run(t, func(*testing.T) (a, b cached.Bus) {
		bus := new(cached.LocalBus)
		return bus, bus
	})
}

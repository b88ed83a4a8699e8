package breaker_test

import (
	"fmt"
	"time"

	"github.com/cachedgo/cached/internal/breaker"
)

// A backend that fails twice is taken out of use for the cooldown, then probed once.
func ExampleBreaker() {
	b := &breaker.Breaker{Threshold: 2, Cooldown: time.Second}
	now := time.Now()
	b.Failure(now)
	fmt.Println("opened:", b.Failure(now))
	fmt.Println("allowed during the cooldown:", b.Allow(now.Add(time.Second/2)))
	fmt.Println("probe after it:", b.Allow(now.Add(time.Second)))
	b.Success()
	fmt.Println("open after the probe succeeded:", b.Open(now.Add(time.Second)))
	// Output:
	// opened: true
	// allowed during the cooldown: false
	// probe after it: true
	// open after the probe succeeded: false
}

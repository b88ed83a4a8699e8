package jitter_test

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/cachedgo/cached/jitter"
)

func ExamplePercent() {
	// WithRand makes the output reproducible; in production leave it out.
	spread := jitter.Percent(0.1, jitter.WithRand(rand.New(rand.NewPCG(1, 2))))
	for range 3 {
		fmt.Println(spread(10 * time.Minute).Round(time.Second))
	}
	fmt.Println(spread(0)) // zero and negative TTLs are never jittered
	// Output:
	// 10m21s
	// 9m55s
	// 10m1s
	// 0s
}

func ExampleRange() {
	// WithRand makes the output reproducible; in production leave it out.
	spread := jitter.Range(0, 5*time.Minute, jitter.WithRand(rand.New(rand.NewPCG(1, 2))))
	for range 3 {
		fmt.Println(spread(time.Hour).Round(time.Second))
	}
	// Output:
	// 1h3m51s
	// 1h3m5s
	// 1h3m55s
}

func ExampleNone() {
	spread := jitter.None()
	fmt.Println(spread(10 * time.Minute))
	// Output: 10m0s
}

package jitter_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached/jitter"
)

// checkUniform draws samples of f(ttl) and reports the first way in which
// they do not look uniform on [lo, hi]:
//
//   - their mean is further than meanTol from the midpoint;
//   - the lowest or highest sample leaves more than 2.5% of the interval
//     uncovered at its end;
//   - one of 10 equal buckets holds less than 80% or more than 120% of its
//     share.
//
// For a truly uniform f each check fails with a probability far below 1e-9,
// so the test needs no fixed seed; TestCheckUniformRejects shows that each
// check does fail for Funcs that are wrong.
func checkUniform(f jitter.Func, ttl, lo, hi, meanTol time.Duration) error {
	const buckets = 10
	var (
		sum             float64
		lowest, highest = time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
		counts          [buckets]int
		width           = float64(hi - lo)
	)
	for range samples {
		d := f(ttl)
		sum += float64(d)
		lowest, highest = min(lowest, d), max(highest, d)
		i := int(float64(d-lo) / width * buckets)
		counts[min(max(i, 0), buckets-1)]++
	}
	mean := time.Duration(sum / samples)
	if mid := lo + (hi-lo)/2; mean < mid-meanTol || mean > mid+meanTol {
		return fmt.Errorf("mean = %v; want %v ± %v", mean, mid, meanTol)
	}
	margin := time.Duration(width * 0.025)
	if lowest > lo+margin || highest < hi-margin {
		return fmt.Errorf("span of samples is [%v, %v]; want at least [%v, %v]", lowest, highest, lo+margin, hi-margin)
	}
	share := samples / buckets
	for i, n := range counts {
		if n < share*8/10 || n > share*12/10 {
			return fmt.Errorf("bucket %d of %d holds %d samples; want %d ± 20%%", i, buckets, n, share)
		}
	}
	return nil
}

func TestDistribution(t *testing.T) {
	tests := []struct {
		name                 string
		f                    jitter.Func
		ttl, lo, hi, meanTol time.Duration
	}{
		// meanTol is 1% of ttl here, 17 standard errors of the mean; below
		// it is 2.5% of hi-lo, 8.7 standard errors.
		{"Percent(0.1)", jitter.Percent(0.1), 100 * time.Second, 90 * time.Second, 110 * time.Second, time.Second},
		{"Percent(0.1)/seeded", jitter.Percent(0.1, seeded()), 100 * time.Second, 90 * time.Second, 110 * time.Second, time.Second},
		// The 1ms floor moves too little mass to show.
		{"Percent(1)", jitter.Percent(1), 100 * time.Second, 0, 200 * time.Second, 5 * time.Second},
		{"Range(0,300s)", jitter.Range(0, 300*time.Second), time.Hour, time.Hour, time.Hour + 300*time.Second, 7500 * time.Millisecond},
		{"Range(0,300s)/seeded", jitter.Range(0, 300*time.Second, seeded()), time.Hour, time.Hour, time.Hour + 300*time.Second, 7500 * time.Millisecond},
		{"Range(1m,2m)", jitter.Range(time.Minute, 2*time.Minute), time.Hour, time.Hour + time.Minute, time.Hour + 2*time.Minute, 1500 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkUniform(tt.f, tt.ttl, tt.lo, tt.hi, tt.meanTol); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestCheckUniformRejects feeds checkUniform Funcs that stay in bounds yet
// spread TTLs badly, so that TestDistribution is known to be able to fail.
func TestCheckUniformRejects(t *testing.T) {
	const (
		ttl = 100 * time.Second
		lo  = 90 * time.Second
		hi  = 110 * time.Second
	)
	r := rand.New(rand.NewPCG(5, 6))
	scaled := func(u float64) time.Duration { return lo + time.Duration(u*float64(hi-lo)) }
	tests := []struct {
		name    string
		f       jitter.Func
		wantErr string // the check that must catch f
	}{
		{"None", jitter.None(), "span"},
		{"too narrow", jitter.Percent(0.05, seeded()), "span"},
		{"upward only", jitter.Range(0, 10*time.Second, seeded()), "mean"},
		{"skewed", func(time.Duration) time.Duration { u := r.Float64(); return scaled(u * u) }, "mean"},
		{"ends only", func(time.Duration) time.Duration { return scaled(float64(r.IntN(2))) }, "bucket"},
		{"triangular", func(time.Duration) time.Duration { return scaled((r.Float64() + r.Float64()) / 2) }, "bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkUniform(tt.f, ttl, lo, hi, time.Second)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("checkUniform = %v; want an error starting with %q", err, tt.wantErr)
			}
		})
	}
}

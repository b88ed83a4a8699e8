package bloom_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

// The measurements of docs/benchmarks.md: run with -v to see them.
const (
	measureKeys = 1_000_000 // existing ids: 0 .. measureKeys-1
	measureFP   = 0.01
	absentBase  = 1 << 40 // absent ids are drawn from [absentBase, 2*absentBase)
)

// filled returns a guard for measureKeys keys at measureFP, filled with them.
func filled(t testing.TB) *bloom.Guard {
	t.Helper()
	g := bloom.New(measureKeys, measureFP)
	if err := g.Fill(context.Background(), idSeq(0, measureKeys)); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestMeasureFalsePositivesAndSize(t *testing.T) {
	g := filled(t)
	for k := range idSeq(0, measureKeys) {
		if !g.MayExist(k) {
			t.Fatalf("MayExist(%q) after Fill = false; want true", k)
		}
	}
	fp := 0
	for k := range idSeq(absentBase, measureKeys) {
		if g.MayExist(k) {
			fp++
		}
	}
	rate := float64(fp) / measureKeys
	st := g.Stats()
	perKey := float64(st.Bits) / 8 / measureKeys
	t.Logf("%d keys at a %.0f%% target: false positives %d of %d absent keys = %.3f%% (estimated from fill: %.3f%%)",
		measureKeys, measureFP*100, fp, measureKeys, rate*100, st.EstimatedFPRate*100)
	t.Logf("memory: %d bits = %.3f bytes per key (%.2f MB); fill %.3f; Stats.Keys %d",
		st.Bits, perKey, float64(st.Bits)/8/1e6, st.Fill, st.Keys)
	if rate > 0.012 {
		t.Errorf("false-positive rate = %.3f%%; want <= 1.2%%", rate*100)
	}
	if perKey > 1.3 {
		t.Errorf("memory = %.3f bytes per key; want <= 1.3", perKey)
	}
}

// TestMeasurePenetrationFlood sends floods of lookups for absent ids through a cached
// function (in-process tier only) and measures how many reach the loader, with each
// protection.
func TestMeasurePenetrationFlood(t *testing.T) {
	// Under -race the miss path is about ten times slower: a fifth of the flood, drawn from a
	// pool a fifth the size, keeps the ratios and the test under ten seconds.
	requests, pool := int64(100_000), int64(10_000)
	if raceEnabled {
		requests, pool = 20_000, 2_000
	}
	g := filled(t)
	for _, tc := range []struct {
		name string
		pool int64 // absent ids drawn from this many; 0: from a space of 2^40
		opts []cached.Option
		max  float64 // the fraction of requests that may reach the loader; 0: report only
		want float64 // the fraction that must; 0: no such check
	}{
		{"guard", 0, []cached.Option{cached.WithGuard(g)}, 0.015, 0},
		{"none", 0, []cached.Option{cached.NegativeTTL(0)}, 0, 1},
		{"negative-cache", 0, nil, 0, 0},
		{"guard/pool", pool, []cached.Option{cached.WithGuard(g)}, 0.015, 0},
		{"none/pool", pool, []cached.Option{cached.NegativeTTL(0)}, 0, 1},
		{"negative-cache/pool", pool, nil, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCachedTest(t)
			src := &accounts{n: measureKeys}
			get := cached.Wrap(c, "account", src.load, tc.opts...)
			ctx := context.Background()
			r := rand.New(rand.NewPCG(1, 2))
			for range requests {
				var id int64
				if tc.pool > 0 {
					id = absentBase + r.Int64N(tc.pool)
				} else {
					id = absentBase + r.Int64N(absentBase)
				}
				if _, err := get(ctx, id); !errors.Is(err, cached.ErrNotFound) {
					t.Fatalf("get(%d) = %v; want ErrNotFound", id, err)
				}
			}
			calls := src.calls.Load()
			frac := float64(calls) / float64(requests)
			st := c.Stats().Funcs["account"]
			space := "2^40"
			if tc.pool > 0 {
				space = strconv.FormatInt(tc.pool, 10)
			}
			t.Logf("%s: %d requests for random absent ids out of %s: loader reached %d times = %.2f%% (guard rejects %d, negative hits %d)",
				tc.name, requests, space, calls, frac*100, st.GuardRejects, st.NegativeHits)
			if tc.max > 0 && frac > tc.max {
				t.Errorf("loader reached for %.2f%% of the requests; want <= %.1f%%", frac*100, tc.max*100)
			}
			if tc.want > 0 && frac != tc.want {
				t.Errorf("loader reached for %.2f%% of the requests; want %.0f%%", frac*100, tc.want*100)
			}
		})
	}
}

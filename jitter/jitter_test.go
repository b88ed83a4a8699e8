package jitter_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached/jitter"
)

const samples = 10_000

// seeded returns an Option with a fresh source seeded as every other call's.
func seeded() jitter.Option {
	return jitter.WithRand(rand.New(rand.NewPCG(1, 2)))
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name        string
		f           jitter.Func
		ttl, lo, hi time.Duration
	}{
		{"Percent(0.1)", jitter.Percent(0.1), 100 * time.Second, 90 * time.Second, 110 * time.Second},
		{"Percent(0.1)/seeded", jitter.Percent(0.1, seeded()), 100 * time.Second, 90 * time.Second, 110 * time.Second},
		{"Percent(0.5)", jitter.Percent(0.5), time.Minute, 30 * time.Second, 90 * time.Second},
		// The 1ms floor replaces the lower bound of 0.
		{"Percent(1)", jitter.Percent(1), 10 * time.Second, time.Millisecond, 20 * time.Second},
		// Below 1ms the floor is ttl itself, so jitter only lengthens.
		{"Percent(0.5)/500µs", jitter.Percent(0.5), 500 * time.Microsecond, 500 * time.Microsecond, 750 * time.Microsecond},
		{"Percent(1)/1ns", jitter.Percent(1), 1, 1, 2},
		{"Range(0,300s)", jitter.Range(0, 300*time.Second), time.Hour, time.Hour, time.Hour + 300*time.Second},
		{"Range(0,300s)/seeded", jitter.Range(0, 300*time.Second, seeded()), time.Hour, time.Hour, time.Hour + 300*time.Second},
		{"Range(1s,2s)/1ns", jitter.Range(time.Second, 2*time.Second), 1, time.Second + 1, 2*time.Second + 1},
		{"Range(0,1ns)", jitter.Range(0, 1), time.Second, time.Second, time.Second + 1},
		{"Range(5s,5s)", jitter.Range(5*time.Second, 5*time.Second), 10 * time.Second, 15 * time.Second, 15 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for range samples {
				if got := tt.f(tt.ttl); got < tt.lo || got > tt.hi {
					t.Fatalf("f(%v) = %v; want in [%v, %v]", tt.ttl, got, tt.lo, tt.hi)
				}
			}
		})
	}
}

// TestFloor checks that the 1ms floor is reached, not only respected:
// Percent(1) on 1s falls below 1ms once in 2000 draws.
func TestFloor(t *testing.T) {
	f := jitter.Percent(1, seeded())
	lowest := time.Duration(math.MaxInt64)
	for range 10 * samples {
		lowest = min(lowest, f(time.Second))
	}
	if want := time.Millisecond; lowest != want {
		t.Errorf("lowest of %d samples = %v; want %v", 10*samples, lowest, want)
	}
}

func TestNonPositiveTTLUnchanged(t *testing.T) {
	funcs := []struct {
		name string
		f    jitter.Func
	}{
		{"None", jitter.None()},
		{"Percent(1)", jitter.Percent(1)},
		{"Percent(0.5)/seeded", jitter.Percent(0.5, seeded())},
		{"Range(1s,1h)", jitter.Range(time.Second, time.Hour)},
		{"Range(1s,1h)/seeded", jitter.Range(time.Second, time.Hour, seeded())},
	}
	ttls := []time.Duration{0, -1, -time.Hour, math.MinInt64}
	for _, fn := range funcs {
		t.Run(fn.name, func(t *testing.T) {
			for _, ttl := range ttls {
				if got := fn.f(ttl); got != ttl {
					t.Errorf("f(%v) = %v; want %v", ttl, got, ttl)
				}
			}
		})
	}
}

func TestZeroIsNone(t *testing.T) {
	funcs := []struct {
		name string
		f    jitter.Func
	}{
		{"None", jitter.None()},
		{"Percent(0)", jitter.Percent(0)},
		{"Percent(0)/seeded", jitter.Percent(0, seeded())},
		{"Range(0,0)", jitter.Range(0, 0)},
	}
	ttls := []time.Duration{1, time.Microsecond, time.Hour, math.MaxInt64}
	for _, fn := range funcs {
		t.Run(fn.name, func(t *testing.T) {
			for _, ttl := range ttls {
				if got := fn.f(ttl); got != ttl {
					t.Errorf("f(%v) = %v; want %v", ttl, got, ttl)
				}
			}
		})
	}
}

func TestHugeTTL(t *testing.T) {
	const maxTTL = time.Duration(math.MaxInt64)
	tests := []struct {
		name         string
		f            jitter.Func
		ttl, lo, hi  time.Duration
		wantSaturate bool // whether some samples must hit math.MaxInt64
	}{
		{"Percent(1)/max", jitter.Percent(1), maxTTL, time.Millisecond, maxTTL, true},
		{"Percent(0.5)/max", jitter.Percent(0.5), maxTTL, maxTTL / 2, maxTTL, true},
		{"Percent(0.1)/max/2", jitter.Percent(0.1), maxTTL / 2, maxTTL / 20 * 9, maxTTL / 20 * 11, false},
		{"Range(0,300s)/max-1s", jitter.Range(0, 300*time.Second), maxTTL - time.Second, maxTTL - time.Second, maxTTL, true},
		{"Range(0,max)/max", jitter.Range(0, maxTTL), maxTTL, maxTTL, maxTTL, true},
		{"Range(0,max)/1ns/seeded", jitter.Range(0, maxTTL, seeded()), 1, 1, maxTTL, false},
		{"Range(max,max)/1ns", jitter.Range(maxTTL, maxTTL), 1, maxTTL, maxTTL, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			saturated := 0
			for range samples {
				got := tt.f(tt.ttl)
				if got < tt.lo || got > tt.hi {
					t.Fatalf("f(%v) = %v; want in [%v, %v]", tt.ttl, got, tt.lo, tt.hi)
				}
				if got == maxTTL {
					saturated++
				}
			}
			if got := saturated > 0; got != tt.wantSaturate {
				t.Errorf("some results saturated = %v (%d of %d); want %v", got, saturated, samples, tt.wantSaturate)
			}
		})
	}
}

func TestWithRandIsDeterministic(t *testing.T) {
	tests := []struct {
		name string
		new  func(jitter.Option) jitter.Func
	}{
		{"Percent", func(o jitter.Option) jitter.Func { return jitter.Percent(0.3, o) }},
		{"Range", func(o jitter.Option) jitter.Func { return jitter.Range(time.Second, time.Minute, o) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := tt.new(seeded()), tt.new(seeded())
			other := tt.new(jitter.WithRand(rand.New(rand.NewPCG(3, 4))))
			differ := false
			for i := range 1000 {
				ga, gb := a(time.Hour), b(time.Hour)
				if ga != gb {
					t.Fatalf("call %d: got %v and %v from equally seeded Funcs; want equal", i, ga, gb)
				}
				if other(time.Hour) != ga {
					differ = true
				}
			}
			// Guards against a WithRand that is ignored or a source that
			// ignores its seed: both would make every seed look alike.
			if !differ {
				t.Errorf("seeds (1,2) and (3,4) gave the same 1000 TTLs; want different sequences")
			}
		})
	}
}

func TestWithRandNilKeepsDefault(t *testing.T) {
	f := jitter.Percent(0.1, jitter.WithRand(nil))
	for range samples {
		if got := f(100 * time.Second); got < 90*time.Second || got > 110*time.Second {
			t.Fatalf("f(100s) = %v; want in [90s, 110s]", got)
		}
	}
}

func TestPanics(t *testing.T) {
	tests := []struct {
		name      string
		build     func()
		wantPanic bool
	}{
		{"Percent(-0.1)", func() { jitter.Percent(-0.1) }, true},
		{"Percent(1.1)", func() { jitter.Percent(1.1) }, true},
		{"Percent(NaN)", func() { jitter.Percent(math.NaN()) }, true},
		{"Percent(+Inf)", func() { jitter.Percent(math.Inf(1)) }, true},
		{"Percent(-Inf)", func() { jitter.Percent(math.Inf(-1)) }, true},
		{"Range(-1ns,0)", func() { jitter.Range(-1, 0) }, true},
		{"Range(-2s,-1s)", func() { jitter.Range(-2*time.Second, -time.Second) }, true},
		{"Range(2s,1s)", func() { jitter.Range(2*time.Second, time.Second) }, true},
		{"Percent(0)", func() { jitter.Percent(0) }, false},
		{"Percent(1)", func() { jitter.Percent(1) }, false},
		{"Range(0,0)", func() { jitter.Range(0, 0) }, false},
		{"Range(1s,1s)", func() { jitter.Range(time.Second, time.Second) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := recovered(tt.build)
			if got := r != nil; got != tt.wantPanic {
				t.Fatalf("panicked = %v (%v); want %v", got, r, tt.wantPanic)
			}
			if !tt.wantPanic {
				return
			}
			if msg, _ := r.(string); !strings.HasPrefix(msg, "jitter: ") {
				t.Errorf("panic value = %#v; want a string starting with %q", r, "jitter: ")
			}
		})
	}
}

func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// TestConcurrentUse is meant for -race: with WithRand, the race detector
// catches an unguarded *rand.Rand.
func TestConcurrentUse(t *testing.T) {
	tests := []struct {
		name        string
		f           jitter.Func
		ttl, lo, hi time.Duration
	}{
		{"Percent/seeded", jitter.Percent(0.2, seeded()), time.Minute, 48 * time.Second, 72 * time.Second},
		{"Range/seeded", jitter.Range(0, time.Second, seeded()), time.Minute, time.Minute, time.Minute + time.Second},
		{"Percent/default", jitter.Percent(0.2), time.Minute, 48 * time.Second, 72 * time.Second},
		{"Range/default", jitter.Range(0, time.Second), time.Minute, time.Minute, time.Minute + time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 32 {
				wg.Go(func() {
					for range 500 {
						if got := tt.f(tt.ttl); got < tt.lo || got > tt.hi {
							t.Errorf("f(%v) = %v; want in [%v, %v]", tt.ttl, got, tt.lo, tt.hi)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

func BenchmarkPercent(b *testing.B) {
	b.Run("default", func(b *testing.B) {
		f := jitter.Percent(0.1)
		b.ReportAllocs()
		for b.Loop() {
			f(time.Minute)
		}
	})
	b.Run("default/parallel", func(b *testing.B) {
		f := jitter.Percent(0.1)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f(time.Minute)
			}
		})
	})
	b.Run("WithRand/parallel", func(b *testing.B) {
		f := jitter.Percent(0.1, seeded())
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				f(time.Minute)
			}
		})
	})
}

func BenchmarkRange(b *testing.B) {
	f := jitter.Range(0, 5*time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		f(time.Hour)
	}
}

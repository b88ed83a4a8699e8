package bloom_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	bbloom "github.com/bits-and-blooms/bloom/v3"
	"github.com/cachedgo/cached/bloom"
)

const (
	benchKeys   = 1_000_000 // keys in the filters, as in the measurements
	benchProbes = 4096      // keys tested in turn: half present, half absent
	benchMask   = benchProbes - 1
)

// benchProbeKeys returns the keys the benchmarks test, built before timing so that no
// benchmark measures strconv: even ones present, odd ones absent.
func benchProbeKeys() []string {
	ks := make([]string, benchProbes)
	for i := range ks {
		if i%2 == 0 {
			ks[i] = strconv.Itoa(i * 241) // < benchKeys: present
		} else {
			ks[i] = strconv.Itoa(absentBase + i*241)
		}
	}
	return ks
}

// benchFilters returns a guard and a raw bits-and-blooms filter sized for size keys,
// filled with the same benchKeys keys.
func benchFilters(b *testing.B, size uint) (*bloom.Guard, *bbloom.BloomFilter) {
	b.Helper()
	g := bloom.New(size, measureFP)
	if err := g.Fill(context.Background(), idSeq(0, benchKeys)); err != nil {
		b.Fatal(err)
	}
	raw := bbloom.NewWithEstimates(size, measureFP)
	for k := range idSeq(0, benchKeys) {
		raw.AddString(k)
	}
	return g, raw
}

// BenchmarkMayExist compares Guard.MayExist with TestString on a raw, unsynchronised
// bits-and-blooms filter of the same size holding the same keys: the price of the
// guard's sharding and atomic loads.
func BenchmarkMayExist(b *testing.B) {
	g, raw := benchFilters(b, benchKeys)
	ks := benchProbeKeys()
	for _, c := range []struct {
		name string
		test func(string) bool
	}{
		{"guard", g.MayExist},
		{"raw", raw.TestString},
	} {
		b.Run(c.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for i := 0; b.Loop(); i++ {
				if c.test(ks[i&benchMask]) {
					n++
				}
			}
			sink.Store(int64(n))
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i, n := int(goroutines.Add(1))*1031, 0
				for ; pb.Next(); i++ {
					if c.test(ks[i&benchMask]) {
						n++
					}
				}
				sink.Add(int64(n))
			})
		})
	}
}

// sink keeps the results of the benchmarks' calls alive.
var sink atomic.Int64

// BenchmarkMayExistWhileAdding runs MayExist on every P while one more goroutine adds new
// keys as fast as it can (adding), against the same readers alone (idle) and beside a
// goroutine that spins without adding (spinning): the writer takes CPU from the readers,
// being one goroutine more than there are Ps, so adding is to be compared with spinning.
// A reader never waits for an Add; adds/s is the writer's rate.
//
// The guard is sized for twice the keys it holds, and replaced by a fresh one once the
// writer has added 5% more (the function of a sub-benchmark runs again for each -count
// and each round of b.N: without that, later runs would measure a fuller filter, on
// which more Adds find their key "present" and copy nothing).
func BenchmarkMayExistWhileAdding(b *testing.B) {
	g, _ := benchFilters(b, 2*benchKeys)
	ks := benchProbeKeys()
	var added atomic.Int64 // Adds to g since it was filled
	for _, name := range []string{"idle", "spinning", "adding"} {
		adding := name == "adding"
		b.Run(name, func(b *testing.B) {
			if added.Load() > benchKeys/20 {
				b.StopTimer()
				g, _ = benchFilters(b, 2*benchKeys)
				added.Store(0)
				b.StartTimer()
			}
			var (
				stop  = make(chan struct{})
				wg    sync.WaitGroup
				adds  atomic.Int64
				start = make(chan struct{})
			)
			if name != "idle" {
				// spinning is the control: a writer's CPU use without its Adds.
				wg.Go(func() {
					<-start
					for i := int64(2 * absentBase); ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						k := strconv.FormatInt(i, 10)
						if adding {
							g.Add(k)
						}
						adds.Add(1)
					}
				})
			}
			var goroutines atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			close(start)
			b.RunParallel(func(pb *testing.PB) {
				i, n := int(goroutines.Add(1))*1031, 0
				for ; pb.Next(); i++ {
					if g.MayExist(ks[i&benchMask]) {
						n++
					}
				}
				sink.Add(int64(n))
			})
			b.StopTimer()
			close(stop)
			wg.Wait()
			if adding {
				added.Add(adds.Load())
				b.ReportMetric(float64(adds.Load())/b.Elapsed().Seconds(), "adds/s")
			}
		})
	}
}

// BenchmarkAdd adds new keys, one at a time, to a guard and to a raw bits-and-blooms filter
// holding benchKeys keys and sized for twice that: the guard copies the shard it changes
// (a few KiB) so that readers never wait. Each run starts from fresh filters: an Add of a
// key a fuller filter already reports present copies nothing.
func BenchmarkAdd(b *testing.B) {
	for _, name := range []string{"guard", "raw"} {
		b.Run(name, func(b *testing.B) {
			g, raw := benchFilters(b, 2*benchKeys)
			add := g.Add
			if name == "raw" {
				add = func(k string) { raw.AddString(k) }
			}
			b.ReportAllocs()
			for i := int64(3 * absentBase); b.Loop(); i++ {
				add(strconv.FormatInt(i, 10))
			}
		})
	}
}

package bloom

import (
	"math"
	"math/bits"
	"sync"
	"sync/atomic"

	bbloom "github.com/bits-and-blooms/bloom/v3"
)

// filter is one generation of a Guard's Bloom filter, split into shards by a hash of the
// key. Each shard is an immutable bits-and-blooms filter behind an atomic pointer: a
// reader loads it and tests, never locking; a writer copies it, adds, and publishes the
// copy (copy-on-write), under the shard's own mutex. A shard is small (about 2,000 to
// 4,000 expected keys, a few KiB), so the copy is cheap next to the load that precedes
// an Add, and repeated Adds of a present key copy nothing.
type filter struct {
	expected uint    // keys the generation was sized for
	fpRate   float64 // its target false-positive rate
	shards   []shard
	mask     uint64
	added    atomic.Uint64 // keys added that were not present (an estimate of its size)
}

type shard struct {
	f  atomic.Pointer[bbloom.BloomFilter]
	mu sync.Mutex // serializes the writers of f
	_  [48]byte   // one shard per cache line: writers of neighbours do not share it
}

// perShard is about how many expected keys a shard holds.
const (
	perShard  = 2048
	maxShards = 1024
)

// shape is the geometry New gives a filter: how many shards, and each one's bits and
// hash functions.
type shape struct {
	shards uint
	m, k   uint
}

func shapeOf(expected uint, fpRate float64) shape {
	n := max(expected/perShard, 1)
	s := min(uint(1)<<(bits.Len(n)-1), maxShards) // the largest power of two <= n, capped
	each := max(uint(math.Ceil(float64(expected)/float64(s))), 1)
	m, k := bbloom.EstimateParameters(each, fpRate)
	return shape{shards: s, m: max(m, 1), k: max(k, 1)}
}

func (sh shape) matches(f *filter) bool {
	if uint(len(f.shards)) != sh.shards {
		return false
	}
	for i := range f.shards {
		if b := f.shards[i].f.Load(); b.Cap() != sh.m || b.K() != sh.k {
			return false
		}
	}
	return true
}

// newFilter returns an empty filter for expected keys at fpRate.
func newFilter(expected uint, fpRate float64) *filter {
	sh := shapeOf(expected, fpRate)
	f := &filter{expected: expected, fpRate: fpRate, shards: make([]shard, sh.shards), mask: uint64(sh.shards - 1)}
	for i := range f.shards {
		f.shards[i].f.Store(bbloom.New(sh.m, sh.k))
	}
	return f
}

// shardOf returns the shard of key: FNV-1a, stable across processes (snapshots and other
// instances must agree), folded so that the low bits depend on every byte.
func (f *filter) shardOf(key string) *shard {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 32
	return &f.shards[h&f.mask]
}

func (f *filter) test(key string) bool {
	return f.shardOf(key).f.Load().TestString(key)
}

// add adds key, and reports whether it was new.
func (f *filter) add(key string) bool {
	sh := f.shardOf(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	cur := sh.f.Load()
	if cur.TestString(key) {
		return false // present (or a false positive): nothing to copy
	}
	next := clone(cur)
	next.AddString(key)
	sh.f.Store(next)
	f.added.Add(1)
	return true
}

// addBatch adds keys, copying each shard it touches once.
func (f *filter) addBatch(keys []string) {
	byShard := make(map[*shard][]string)
	for _, k := range keys {
		sh := f.shardOf(k)
		byShard[sh] = append(byShard[sh], k)
	}
	for sh, ks := range byShard {
		sh.mu.Lock()
		cur := sh.f.Load()
		var next *bbloom.BloomFilter
		for _, k := range ks {
			if (next == nil && cur.TestString(k)) || (next != nil && next.TestString(k)) {
				continue
			}
			if next == nil {
				next = clone(cur)
			}
			next.AddString(k)
			f.added.Add(1)
		}
		if next != nil {
			sh.f.Store(next)
		}
		sh.mu.Unlock()
	}
}

// usage reports the filter's size in bits, the fraction of its bits set, the
// false-positive rate that fill gives (the mean over shards of fill^k), and an estimate of
// the keys it holds: the larger of the Adds new to it (which undercount once false
// positives make new keys look present) and what its fill implies (-m/k ln(1-fill) per
// shard), and no more than its bits (a full shard implies infinitely many).
func (f *filter) usage() (bitsTotal uint64, fill, fpRate float64, keys uint64) {
	var set uint64
	var est float64
	for i := range f.shards {
		b := f.shards[i].f.Load()
		m, k := float64(b.Cap()), float64(b.K())
		c := float64(b.BitSet().Count())
		bitsTotal += uint64(m)
		set += uint64(c)
		fpRate += math.Pow(c/m, k)
		if c < m {
			est += -m / k * math.Log(1-c/m)
		} else {
			est += m
		}
	}
	keys = max(f.added.Load(), uint64(min(est, float64(bitsTotal))))
	return bitsTotal, float64(set) / float64(bitsTotal), fpRate / float64(len(f.shards)), keys
}

// keys is usage's estimate of the keys the filter holds.
func (f *filter) keys() uint64 {
	_, _, _, n := f.usage()
	return n
}

// clone copies b's words into a new filter of b's size (BloomFilter.Copy ORs b into a
// zeroed filter, twice the memory traffic; FromWithM would make a bitset of whole words,
// longer than m, which a snapshot then records).
func clone(b *bbloom.BloomFilter) *bbloom.BloomFilter {
	n := bbloom.New(b.Cap(), b.K())
	copy(n.BitSet().Words(), b.BitSet().Words())
	return n
}

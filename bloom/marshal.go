package bloom

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	bbloom "github.com/bits-and-blooms/bloom/v3"
)

// The encoded filter, the content of a snapshot's chunks:
//
//	0   4   magic "cbsf"
//	4   1   version 1
//	5   8   expected keys
//	13  8   target false-positive rate, IEEE 754 bits
//	21  4   shard count (a power of two, at most maxShards)
//	25  8   keys added
//	33  ... per shard: a 4-byte length and the shard's bits-and-blooms MarshalBinary
//	        encoding (m, k, the bitset's length (= m) and words, all big endian)
//
// All numbers are big endian. bits-and-blooms writes its words in the bitset package's
// byte order, big endian unless a program changed it: a snapshot written in another order
// fails the check of the bitset's length, and is never read as garbage.
const (
	filterMagic     = "cbsf"
	filterHeaderLen = 33
	shardHeaderLen  = 24 // m, k, bitset length
	maxK            = 2048
)

// encodeFilter encodes f, each shard as it is now.
func encodeFilter(f *filter) ([]byte, error) {
	size := filterHeaderLen
	for i := range f.shards {
		size += 4 + shardHeaderLen + 8*int((f.shards[i].f.Load().Cap()+63)/64)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	var h [filterHeaderLen]byte
	copy(h[:], filterMagic)
	h[4] = snapVersion
	binary.BigEndian.PutUint64(h[5:], uint64(f.expected))
	binary.BigEndian.PutUint64(h[13:], math.Float64bits(f.fpRate))
	binary.BigEndian.PutUint32(h[21:], uint32(len(f.shards)))
	binary.BigEndian.PutUint64(h[25:], f.added.Load())
	buf.Write(h[:])
	for i := range f.shards {
		at := buf.Len()
		buf.Write([]byte{0, 0, 0, 0})
		// WriteTo is MarshalBinary without its copy.
		n, err := f.shards[i].f.Load().WriteTo(buf)
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", i, err)
		}
		binary.BigEndian.PutUint32(buf.Bytes()[at:], uint32(n))
	}
	return buf.Bytes(), nil
}

// decodeFilter decodes an encoded filter. It checks every length and count against the
// data before allocating, so a corrupt or hostile snapshot is an error, never a panic or
// a huge allocation.
func decodeFilter(data []byte) (*filter, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadSnapshot, fmt.Sprintf(format, args...))
	}
	if len(data) < filterHeaderLen || string(data[:4]) != filterMagic {
		return nil, bad("not a bloom snapshot")
	}
	if data[4] != snapVersion {
		return nil, bad("format version %d, want %d", data[4], snapVersion)
	}
	expected := binary.BigEndian.Uint64(data[5:])
	fpRate := math.Float64frombits(binary.BigEndian.Uint64(data[13:]))
	n := binary.BigEndian.Uint32(data[21:])
	added := binary.BigEndian.Uint64(data[25:])
	switch {
	case expected == 0 || uint64(uint(expected)) != expected:
		return nil, bad("expected keys %d", expected)
	case !(fpRate > 0 && fpRate < 1):
		return nil, bad("false-positive rate %v", fpRate)
	case n == 0 || n > maxShards || n&(n-1) != 0:
		return nil, bad("%d shards", n)
	case n != uint32(shapeOf(uint(expected), fpRate).shards):
		return nil, bad("%d shards for %d keys", n, expected)
	}
	f := &filter{expected: uint(expected), fpRate: fpRate, shards: make([]shard, n), mask: uint64(n - 1)}
	f.added.Store(added)
	rest := data[filterHeaderLen:]
	for i := range f.shards {
		if len(rest) < 4 || uint64(binary.BigEndian.Uint32(rest)) > uint64(len(rest)-4) {
			return nil, bad("shard %d truncated", i)
		}
		l := binary.BigEndian.Uint32(rest)
		bf, err := decodeShard(rest[4 : 4+l])
		if err != nil {
			return nil, bad("shard %d: %v", i, err)
		}
		f.shards[i].f.Store(bf)
		rest = rest[4+l:]
	}
	if len(rest) != 0 {
		return nil, bad("%d bytes after the last shard", len(rest))
	}
	// The header must describe the shards: a filter New(expected, fpRate) would build has
	// this shape, and it cannot hold more keys than bits. (Rebuilds size from these.)
	if want := shapeOf(uint(expected), fpRate); !want.matches(f) {
		return nil, bad("shards do not match %d keys at %v", expected, fpRate)
	}
	var bits uint64
	for i := range f.shards {
		bits += uint64(f.shards[i].f.Load().Cap())
	}
	if added > bits {
		return nil, bad("%d keys in %d bits", added, bits)
	}
	return f, nil
}

// decodeShard decodes one shard's bits-and-blooms encoding, after checking that its sizes
// agree with its length (bits-and-blooms would allocate what the data claims).
func decodeShard(b []byte) (*bbloom.BloomFilter, error) {
	if len(b) < shardHeaderLen {
		return nil, errors.New("truncated")
	}
	m, k, length := binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:]), binary.BigEndian.Uint64(b[16:])
	words := uint64(len(b)-shardHeaderLen) / 8
	switch {
	case m == 0 || m > words*64 || (m+63)/64 != words || uint64(len(b)-shardHeaderLen) != words*8:
		return nil, fmt.Errorf("%d bits in %d bytes", m, len(b))
	case k == 0 || k > maxK:
		return nil, fmt.Errorf("%d hash functions", k)
	case length != m:
		return nil, fmt.Errorf("bitset of %d bits for a filter of %d", length, m)
	}
	bf := new(bbloom.BloomFilter)
	if err := bf.UnmarshalBinary(b); err != nil {
		return nil, err
	}
	if bf.Cap() != uint(m) || bf.K() != uint(k) || bf.BitSet().Len() != uint(m) {
		return nil, errors.New("inconsistent after decoding")
	}
	if w := bf.BitSet().Words(); m%64 != 0 && w[len(w)-1]>>(m%64) != 0 {
		return nil, errors.New("bits set past the filter's end")
	}
	return bf, nil
}

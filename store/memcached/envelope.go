package memcached

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cachedgo/cached"
)

// The envelope frames every value this store writes:
//
//	offset  size  field
//	0       2     magic "c\x01": our format, version 1
//	2       1     flags: bit 0 negative, bit 1 lease
//	3       8     written-at, unix nanoseconds, big endian
//	11      8     fresh-until (soft expiry), unix nanoseconds
//	19      8     load duration, nanoseconds
//	27      8     fencing token
//	35      ...   the codec's payload
//
// A lease (a reader's claim to load a missing key, see Store) is a header with the lease
// flag, the lease token in the fencing field, zero times and no payload.
//
// A value that does not start with the magic of a version this code reads is foreign or
// corrupt: the store treats it as a miss, deletes it and counts it. A new format gets a
// new version byte; readers of the old one then see the new values as misses, never as
// garbage.
const (
	magic0, magic1 = 'c', 1
	headerLen      = 35
	flagNegative   = 1 << 0
	flagLease      = 1 << 1
)

var errEnvelope = errors.New("memcached: not a value of this store's format")

// encode frames it.
func encode(it cached.Item) []byte {
	b := make([]byte, headerLen+len(it.Value))
	b[0], b[1] = magic0, magic1
	if it.Negative {
		b[2] |= flagNegative
	}
	binary.BigEndian.PutUint64(b[3:], uint64(it.Written.UnixNano()))
	binary.BigEndian.PutUint64(b[11:], uint64(it.Fresh.UnixNano()))
	binary.BigEndian.PutUint64(b[19:], uint64(it.Delta))
	binary.BigEndian.PutUint64(b[27:], it.Fence)
	copy(b[headerLen:], it.Value)
	return b
}

// encodeLease frames the lease with token.
func encodeLease(token uint64) []byte {
	b := make([]byte, headerLen)
	b[0], b[1], b[2] = magic0, magic1, flagLease
	binary.BigEndian.PutUint64(b[27:], token)
	return b
}

// parse reads a framed value or lease: a lease has a nonzero token and no Item.
func parse(b []byte) (it cached.Item, lease uint64, err error) {
	if len(b) == headerLen && b[0] == magic0 && b[1] == magic1 && b[2] == flagLease {
		lease = binary.BigEndian.Uint64(b[27:])
		if lease != 0 && allZero(b[3:27]) {
			return cached.Item{}, lease, nil
		}
		return cached.Item{}, 0, errEnvelope
	}
	it, err = decode(b)
	return it, 0, err
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decode reads a framed value. The Item's Value aliases b.
func decode(b []byte) (cached.Item, error) {
	if len(b) < headerLen || b[0] != magic0 || b[1] != magic1 || b[2]&^flagNegative != 0 {
		return cached.Item{}, errEnvelope
	}
	it := cached.Item{
		Negative: b[2]&flagNegative != 0,
		Written:  time.Unix(0, int64(binary.BigEndian.Uint64(b[3:]))),
		Fresh:    time.Unix(0, int64(binary.BigEndian.Uint64(b[11:]))),
		Delta:    time.Duration(binary.BigEndian.Uint64(b[19:])),
		Fence:    binary.BigEndian.Uint64(b[27:]),
		Value:    b[headerLen:],
	}
	if it.Delta < 0 || (it.Negative && len(it.Value) != 0) {
		return cached.Item{}, errEnvelope
	}
	return it, nil
}

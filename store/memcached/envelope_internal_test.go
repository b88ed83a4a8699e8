package memcached

import (
	"bytes"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	now := time.Now()
	for _, it := range []cached.Item{
		{Value: []byte(`{"a":1}`), Written: now, Fresh: now.Add(time.Minute), Delta: time.Millisecond, Fence: 9},
		{Negative: true, Written: now, Fresh: now.Add(time.Second)},
		{Value: []byte{}, Written: now, Fresh: now},
	} {
		got, err := decode(encode(it))
		if err != nil || !bytes.Equal(got.Value, it.Value) || got.Negative != it.Negative || got.Fence != it.Fence ||
			got.Delta != it.Delta || !got.Written.Equal(it.Written) || !got.Fresh.Equal(it.Fresh) {
			t.Errorf("decode(encode(%+v)) = %+v, %v", it, got, err)
		}
	}
}

func TestEnvelopeRejectsForeignValues(t *testing.T) {
	good := encode(cached.Item{Value: []byte("v")})
	for name, b := range map[string][]byte{
		"empty":        nil,
		"json":         []byte(`{"id":1}`),
		"short":        good[:headerLen-1],
		"next version": append([]byte{magic0, magic1 + 1}, good[2:]...),
		"unknown flag": append(append([]byte{}, good[:2]...), append([]byte{0x80}, good[3:]...)...),
		"negative with payload": func() []byte {
			b := encode(cached.Item{Value: []byte("v")})
			b[2] = flagNegative
			return b
		}(),
	} {
		if _, err := decode(b); err == nil {
			t.Errorf("%s: decoded; want a foreign value", name)
		}
	}
}

// FuzzDecode: no input makes the decoder panic, and what it accepts (a value or a lease)
// re-encodes to the same bytes. The corpus is kept in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(encode(cached.Item{Value: []byte("v"), Fence: 3}))
	f.Add(encode(cached.Item{Negative: true}))
	f.Add([]byte("c"))
	f.Add([]byte{})
	f.Add(encodeLease(7))
	f.Fuzz(func(t *testing.T, b []byte) {
		it, lease, err := parse(b)
		switch {
		case err != nil:
			return
		case lease != 0:
			if again := encodeLease(lease); !bytes.Equal(again, b) {
				t.Fatalf("parse then encodeLease changed %x into %x", b, again)
			}
		default:
			if again := encode(it); !bytes.Equal(again, b) {
				t.Fatalf("parse then encode changed %x into %x", b, again)
			}
		}
	})
}

func TestLeaseEnvelope(t *testing.T) {
	if _, lease, err := parse(encodeLease(42)); err != nil || lease != 42 {
		t.Errorf("parse(encodeLease(42)) = %d, %v", lease, err)
	}
	if _, err := decode(encodeLease(42)); err == nil {
		t.Errorf("decode accepted a lease as a value")
	}
	if _, lease, err := parse(encode(cached.Item{Value: []byte("v")})); err != nil || lease != 0 {
		t.Errorf("parse of a value = lease %d, %v", lease, err)
	}
}

package bloom

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

// encodedFilter returns the encoding of a filter for expected keys holding n of them.
func encodedFilter(t testing.TB, expected uint, n int) []byte {
	f := newFilter(expected, 0.01)
	for i := range n {
		f.add(strconv.Itoa(i))
	}
	b, err := encodeFilter(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeFilterRoundTrip(t *testing.T) {
	for _, expected := range []uint{1, 5000, 100_000} {
		n := int(expected/2) + 1
		data := encodedFilter(t, expected, n)
		f, err := decodeFilter(data)
		if err != nil {
			t.Fatalf("expected %d: decodeFilter: %v", expected, err)
		}
		if f.expected != expected || f.fpRate != 0.01 || f.added.Load() == 0 {
			t.Errorf("expected %d: decoded expected %d, rate %v, added %d", expected, f.expected, f.fpRate, f.added.Load())
		}
		for i := range n {
			if !f.test(strconv.Itoa(i)) {
				t.Fatalf("expected %d: key %d lost in the round trip", expected, i)
			}
		}
		again, err := encodeFilter(f)
		if err != nil || !bytes.Equal(again, data) {
			t.Errorf("expected %d: re-encoding differs (err %v)", expected, err)
		}
	}
}

func TestDecodeFilterRejects(t *testing.T) {
	good := encodedFilter(t, 5000, 100)
	mutate := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	tests := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"foreign", []byte("hello, world, this is not a bloom filter snapshot at all")},
		{"version 2", mutate(func(b []byte) []byte { b[4] = 2; return b })},
		{"truncated", good[:len(good)-1]},
		{"trailing byte", append(bytes.Clone(good), 0)},
		{"zero expected", mutate(func(b []byte) []byte { clear(b[5:13]); return b })},
		{"rate 0", mutate(func(b []byte) []byte { clear(b[13:21]); return b })},
		{"3 shards", mutate(func(b []byte) []byte { b[24] = 3; return b })},
		{"huge m", mutate(func(b []byte) []byte { copy(b[37:45], "\xff\xff\xff\xff\xff\xff\xff\xff"); return b })},
		{"zero k", mutate(func(b []byte) []byte { clear(b[45:53]); return b })},
		{"bitset length", mutate(func(b []byte) []byte { b[60]++; return b })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeFilter(tt.data); !errors.Is(err, ErrBadSnapshot) {
				t.Errorf("decodeFilter: err = %v; want ErrBadSnapshot", err)
			}
		})
	}
}

// FuzzDecodeSnapshot feeds the snapshot decoders arbitrary bytes: they must return an
// error or a filter that encodes back to the same bytes, never panic or allocate what the
// data merely claims.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodedFilter(f, 1, 1))
	f.Add(encodedFilter(f, 5000, 2500))
	f.Add(encodedFilter(f, 3000, 0)[:60])
	f.Add((&manifest{chunks: 1, total: 10}).encode())
	f.Fuzz(func(t *testing.T, data []byte) {
		decodeManifest(data)
		fl, err := decodeFilter(data)
		if err != nil {
			if !errors.Is(err, ErrBadSnapshot) {
				t.Fatalf("error %v does not wrap ErrBadSnapshot", err)
			}
			return
		}
		again, err := encodeFilter(fl)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded filter encodes differently (err %v)", err)
		}
		fl.test("some key")
		fl.add("another key")
		fl.usage()
	})
}

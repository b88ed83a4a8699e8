package bus

import (
	"bytes"
	"testing"

	"github.com/cachedgo/cached"
)

func TestEnvelopeRoundTrip(t *testing.T) {
	want := envelope{Bus: "b1", Seq: 1 << 40, Time: -5, LostAt: 7, Msg: cached.Message{
		Topic: "t", Source: "s", Func: "f\x00", Key: "\xff\xfek", Data: []byte{0, 1}}}
	got, err := decode(want.encode())
	if err != nil {
		t.Fatal(err)
	}
	if got.Bus != want.Bus || got.Seq != want.Seq || got.Time != want.Time || got.LostAt != want.LostAt ||
		got.Msg.Topic != want.Msg.Topic || got.Msg.Source != want.Msg.Source || got.Msg.Func != want.Msg.Func ||
		got.Msg.Key != want.Msg.Key || !bytes.Equal(got.Msg.Data, want.Msg.Data) {
		t.Errorf("decode(encode(%+v)) = %+v", want, got)
	}
}

// FuzzDecode: any value under the prefix decodes or is malformed; it never panics, and
// what decodes encodes to bytes that decode the same (not always to the same bytes:
// Uvarint accepts over-long forms).
func FuzzDecode(f *testing.F) {
	e := envelope{Bus: "b", Seq: 1, Msg: cached.Message{Topic: "t", Key: "k"}}
	f.Add(e.encode())
	f.Add([]byte("not an event"))
	f.Add([]byte{1, 1, 0, 0, 1, 'b', 1, 't', 0, 0, 0, 200})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err != nil {
			return
		}
		again, err := decode(e.encode())
		if err != nil || !bytes.Equal(again.encode(), e.encode()) {
			t.Errorf("decode(encode(decode(%x))) = %+v, %v; want %+v", b, again, err, e)
		}
	})
}

package bus

import (
	"encoding/binary"
	"errors"

	"github.com/cachedgo/cached"
)

// envelopeVersion is the first byte of every event value; a reader refuses any other
// (counts it as malformed and, under an event key, resyncs: the event may have been an
// invalidation), so a newer writer never confuses an older reader. A new version must
// therefore reach every reader before any writer uses it.
const envelopeVersion = 1

// envelope is the value of one event key: the version byte, then uvarint seq, varint
// time and lostAt, then bus, topic, source, func, key and data, each a uvarint length and
// its bytes. A binary form rather than JSON because keys are arbitrary byte strings and
// encoding/json rewrites invalid UTF-8.
type envelope struct {
	Bus    string // the publishing bus's ID
	Seq    uint64 // the publishing bus's sequence number, from 1
	Time   int64  // publish wall time, unix nanoseconds (for the lag)
	LostAt int64  // when the publishing bus's newest failed publish was, unix nanoseconds; 0 if none
	Msg    cached.Message
}

func (e *envelope) encode() []byte {
	m := &e.Msg
	b := make([]byte, 0, 32+len(e.Bus)+len(m.Topic)+len(m.Source)+len(m.Func)+len(m.Key)+len(m.Data))
	b = append(b, envelopeVersion)
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendVarint(b, e.Time)
	b = binary.AppendVarint(b, e.LostAt)
	for _, s := range []string{e.Bus, m.Topic, m.Source, m.Func, m.Key} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(m.Data)))
	return append(b, m.Data...)
}

var errMalformed = errors.New("bus: malformed event")

// decode parses an event value. It never panics; any error is errMalformed.
func decode(b []byte) (*envelope, error) {
	if len(b) == 0 || b[0] != envelopeVersion {
		return nil, errMalformed
	}
	r := reader{b: b[1:]}
	e := &envelope{Seq: r.uvarint(), Time: r.varint(), LostAt: r.varint()}
	e.Bus = string(r.bytes())
	e.Msg.Topic = string(r.bytes())
	e.Msg.Source = string(r.bytes())
	e.Msg.Func = string(r.bytes())
	e.Msg.Key = string(r.bytes())
	if d := r.bytes(); len(d) > 0 {
		e.Msg.Data = append([]byte(nil), d...)
	}
	if r.bad || len(r.b) != 0 || e.Bus == "" || e.Seq == 0 || e.Msg.Topic == "" {
		return nil, errMalformed
	}
	return e, nil
}

// reader reads an envelope's fields; after a short read, bad is set and every read
// returns zero.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.bad, r.b = true, nil
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.bad, r.b = true, nil
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

package bus

import "github.com/cachedgo/cached"

// StartRev makes the bus watch from rev instead of etcd's current revision, as a watcher
// that fell behind would.
func StartRev(rev int64) Option { return func(c *config) { c.startRev = rev } }

// Encode returns an event value, to write under the prefix as a bus would.
func Encode(bus string, seq uint64, lostAt int64, m cached.Message) []byte {
	e := envelope{Bus: bus, Seq: seq, Time: 1, LostAt: lostAt, Msg: m}
	return e.encode()
}

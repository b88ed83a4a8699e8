package bus

import (
	"strings"
	"time"

	"github.com/cachedgo/cached"
)

// source is what a bus tracks of one publishing bus. The table outlives resyncs: what a
// source's LostAt reported is remembered, so that one loss makes one resync.
type source struct {
	seq     uint64    // the last sequence number delivered
	seen    time.Time // when it was delivered
	gen     uint64    // watchState.gen then: seq's successor is due only if no resync came since
	covered int64     // the newest LostAt this bus has judged: resynced for, or older than a resync
}

// Tuning of the per-source tracking; see the package documentation.
const (
	// forgetAfter is how long a publishing bus may stay silent before it is forgotten.
	forgetAfter = time.Hour
	// clockSkew is the wall-clock difference between hosts that the check of a LostAt
	// against the last resync allows for.
	clockSkew = 30 * time.Second
)

// event processes one event key at revision rev.
func (b *Etcd) event(key, value []byte, rev int64) {
	b.w.next = rev + 1
	defer b.c.done(rev)
	env, err := decode(value)
	if err != nil {
		b.c.malformed.Add(1)
		if !b.isEventKey(key) {
			b.log.Warn("bus: skipping a foreign value under the prefix", "key", string(key), "rev", rev)
			return
		}
		// A bus wrote it (a newer envelope version during a rolling upgrade, say): it may
		// have been an invalidation meant for us.
		b.log.Warn("bus: cannot decode an event; resyncing", "key", string(key), "rev", rev)
		b.resync("an event could not be decoded")
		return
	}
	now := time.Now()
	src, known := b.w.sources[env.Bus]
	if known && env.Seq <= src.seq {
		return // a duplicate, after a reconnect
	}
	if env.Bus != b.id { // this bus's own losses were reported to its publishers
		b.checkLoss(env, src, known)
	}
	b.w.sources[env.Bus] = source{seq: env.Seq, seen: now, gen: b.w.gen, covered: max(src.covered, env.LostAt)}
	if env.Msg.Topic == topicSync {
		return
	}
	env.Msg.Rev = uint64(rev)
	b.lags.add(now.Sub(time.Unix(0, env.Time)))
	b.c.delivered.Add(1)
	b.deliver(env.Msg)
}

// checkLoss resyncs when env shows that its publisher lost a message this bus has not
// resynced for. src is what was known of the publisher, if known.
func (b *Etcd) checkLoss(env *envelope, src source, known bool) {
	switch {
	case known && src.gen == b.w.gen && env.Seq > src.seq+1:
		// Every sequence number since the last resync is due: a skipped one was lost.
		b.c.gaps.Add(1)
		b.log.Warn("bus: a publishing bus skipped sequence numbers; resyncing", "from", env.Bus, "last", src.seq, "got", env.Seq)
		b.resync("a publishing bus lost a message")
	case (!known || src.gen != b.w.gen) && env.LostAt > src.covered &&
		time.Unix(0, env.LostAt).After(b.w.since.Add(-clockSkew)):
		// A bus first heard of now, or first heard again since a resync: its sequence
		// numbers cannot tell what was lost before the resync (a compaction, say) from
		// what was lost after it, but its LostAt can. A failure after the last resync
		// (clock skew allowed for) that no resync covered may have lost a message for us.
		b.c.gaps.Add(1)
		b.log.Warn("bus: a publishing bus lost a message since the last resync; resyncing", "from", env.Bus)
		b.resync("a publishing bus lost a message")
	}
}

// isEventKey reports whether key is shaped like the keys buses write,
// <prefix><bus ID>/<16 hex digits>.
func (b *Etcd) isEventKey(key []byte) bool {
	id, seq, ok := strings.Cut(strings.TrimPrefix(string(key), b.cfg.prefix), "/")
	if !ok || id == "" || len(seq) != 16 {
		return false
	}
	for _, c := range []byte(seq) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// resync tells the subscribers that messages may have been lost. They drop what they
// hold, so every loss before now is covered: a new generation of sequence tracking starts.
func (b *Etcd) resync(why string) {
	b.c.resyncs.Add(1)
	b.w.gen++
	b.w.since = time.Now()
	b.deliver(cached.Message{Topic: cached.TopicResync, Data: []byte(why)})
}

// deliver calls every subscriber, in subscription order, recovering their panics.
func (b *Etcd) deliver(m cached.Message) {
	for _, s := range *b.subs.Load() {
		b.call(s.h, m)
	}
}

func (b *Etcd) call(h func(cached.Message), m cached.Message) {
	defer func() {
		if r := recover(); r != nil {
			b.c.panics.Add(1)
			b.log.Error("bus: subscriber panicked", "topic", m.Topic, "key", m.Key, "panic", r)
		}
	}()
	h(m)
}

// sweep forgets the buses not heard from for forgetAfter, at most once a minute.
func (b *Etcd) sweep() {
	now := time.Now()
	if now.Sub(b.w.swept) < time.Minute {
		return
	}
	b.w.swept = now
	for id, s := range b.w.sources {
		if now.Sub(s.seen) > forgetAfter {
			delete(b.w.sources, id)
		}
	}
}

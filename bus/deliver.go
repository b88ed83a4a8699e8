package bus

import (
	"time"

	"github.com/cachedgo/cached"
)

// source is what a bus tracks of one publishing bus.
type source struct {
	seq  uint64    // the last sequence number delivered
	seen time.Time // when it was delivered
}

// Tuning of the per-source tracking; see the package documentation.
const (
	// forgetAfter is how long a publishing bus may stay silent before it is forgotten.
	forgetAfter = time.Hour
	// clockSkew is the wall-clock difference between hosts that the check of a newly
	// heard bus's LostAt allows for.
	clockSkew = 30 * time.Second
)

// event processes one event key at revision rev.
func (b *Etcd) event(key, value []byte, rev int64) {
	b.w.next = rev + 1
	defer b.c.done(rev)
	env, err := decode(value)
	if err != nil {
		b.c.malformed.Add(1)
		b.log.Warn("bus: skipping a malformed event", "key", string(key), "rev", rev)
		return
	}
	now := time.Now()
	src, known := b.w.sources[env.Bus]
	switch {
	case known && env.Seq <= src.seq:
		return // a duplicate, after a reconnect
	case known && env.Seq > src.seq+1:
		b.c.gaps.Add(1)
		b.log.Warn("bus: a publishing bus skipped sequence numbers; resyncing", "from", env.Bus, "last", src.seq, "got", env.Seq)
		b.resync("a publishing bus lost a message")
	case !known && env.LostAt != 0 && time.Unix(0, env.LostAt).After(b.w.epoch.Add(-clockSkew)):
		// A bus first heard of now, which failed to publish since this one started
		// tracking: the failed message may have been one this bus should have seen.
		b.c.gaps.Add(1)
		b.log.Warn("bus: a newly heard bus lost a message recently; resyncing", "from", env.Bus)
		b.resync("a publishing bus lost a message")
	}
	b.w.sources[env.Bus] = source{seq: env.Seq, seen: now}
	if env.Msg.Topic == topicSync {
		return
	}
	env.Msg.Rev = uint64(rev)
	b.lags.add(now.Sub(time.Unix(0, env.Time)))
	b.c.delivered.Add(1)
	b.deliver(env.Msg)
}

// resync tells the subscribers that messages may have been lost, and starts tracking
// sequence numbers afresh (the subscribers drop what they hold, so what came before no
// longer matters).
func (b *Etcd) resync(why string) {
	b.c.resyncs.Add(1)
	clear(b.w.sources)
	b.w.epoch = time.Now()
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

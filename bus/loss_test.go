package bus_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
)

// TestCompactionResyncs: a watcher whose next revision was compacted delivers a resync,
// then the events that are left.
func TestCompactionResyncs(t *testing.T) {
	pfx := prefix(t)
	a, cli := newBus(t, srv, bus.Prefix(pfx))
	ina := inbox(a)
	var revs []uint64
	for i := range 3 {
		publish(t, a, cached.Message{Topic: "t", Key: fmt.Sprint(i)})
		revs = append(revs, next(t, ina).Rev)
	}
	if _, err := cli.Compact(context.Background(), int64(revs[2])); err != nil {
		t.Fatal(err)
	}
	// b watches from the first event on, as a watcher that fell behind would.
	b, _ := newBus(t, srv, bus.Prefix(pfx), bus.StartRev(int64(revs[0])))
	inb := inbox(b)
	if m := next(t, inb); m.Topic != cached.TopicResync {
		t.Fatalf("first message %+v; want a resync", m)
	}
	if m := next(t, inb); m.Key != "2" || m.Rev != revs[2] {
		t.Errorf("after the resync got %+v; want the event at the compacted revision %d", m, revs[2])
	}
	if s := b.Stats(); s.Resyncs != 1 || s.Gaps != 0 || s.Reconnects != 0 {
		t.Errorf("Resyncs %d, Gaps %d, Reconnects %d; want 1, 0, 0: a compaction is not a lost watch",
			s.Resyncs, s.Gaps, s.Reconnects)
	}
}

// TestSequenceGapResyncs: an event whose sequence number skips one of its bus's makes
// the others resync before it is delivered; a repeated one is skipped.
func TestSequenceGapResyncs(t *testing.T) {
	pfx := prefix(t)
	a, _ := newBus(t, srv, bus.Prefix(pfx))
	b, cli := newBus(t, srv, bus.Prefix(pfx))
	in := inbox(b)
	publish(t, a, cached.Message{Topic: "t", Key: "seq1"})
	next(t, in)
	put := func(seq uint64) {
		v := bus.Encode(a.ID(), seq, 0, cached.Message{Topic: "t", Key: fmt.Sprint("seq", seq)})
		if _, err := cli.Put(context.Background(), fmt.Sprintf("%s%s/%016x", pfx, a.ID(), seq), string(v)); err != nil {
			t.Fatal(err)
		}
	}
	put(3)
	put(3) // a duplicate
	put(4)
	for _, want := range []string{cached.TopicResync, "seq3", "seq4"} {
		if m := next(t, in); m.Topic != want && m.Key != want {
			t.Errorf("got %+v; want %s", m, want)
		}
	}
	if s := b.Stats(); s.Gaps != 1 || s.Resyncs != 1 {
		t.Errorf("Gaps %d, Resyncs %d; want 1, 1", s.Gaps, s.Resyncs)
	}
}

// TestNewSourceWithRecentLossResyncs: a bus heard of for the first time that failed to
// publish since this one started may have lost a message meant for it: resync. One
// whose failure is older does not count.
func TestNewSourceWithRecentLossResyncs(t *testing.T) {
	pfx := prefix(t)
	b, cli := newBus(t, srv, bus.Prefix(pfx))
	in := inbox(b)
	for _, c := range []struct {
		id     string
		lostAt time.Time
	}{{"old", time.Now().Add(-time.Hour)}, {"recent", time.Now()}} {
		v := bus.Encode(c.id, 7, c.lostAt.UnixNano(), cached.Message{Topic: "t", Key: c.id})
		if _, err := cli.Put(context.Background(), pfx+c.id+"/7", string(v)); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"old", cached.TopicResync, "recent"} {
		if m := next(t, in); m.Topic != want && m.Key != want {
			t.Errorf("got %+v; want %s", m, want)
		}
	}
	if s := b.Stats(); s.Gaps != 1 {
		t.Errorf("Gaps %d; want 1", s.Gaps)
	}
}

// TestFailedPublishResyncsOthers: a publish that fails makes the other buses resync,
// even when nothing else is published after it (the sync event carries the gap).
func TestFailedPublishResyncsOthers(t *testing.T) {
	p := bus.Prefix(prefix(t))
	a, _ := newBus(t, srv, p, bus.Timeout(200*time.Millisecond))
	b, _ := newBus(t, srv, p)
	in := inbox(b)
	publish(t, a, cached.Message{Topic: "t", Key: "1"})
	next(t, in)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Publish(ctx, cached.Message{Topic: "t", Key: "lost"}); err == nil {
		t.Fatal("Publish with a cancelled context succeeded")
	}
	if m := next(t, in); m.Topic != cached.TopicResync {
		t.Errorf("got %+v; want a resync", m)
	}
	if sa, sb := a.Stats(), b.Stats(); sa.PublishErrors != 1 || sb.Gaps != 1 {
		t.Errorf("a.PublishErrors %d, b.Gaps %d; want 1, 1", sa.PublishErrors, sb.Gaps)
	}
}

// TestOneResyncPerFailedPublish: two publishing buses each fail one publish (an etcd
// blip fails everybody's publish at once); another bus resyncs at most once per lost
// message, not on every later event. (Were the per-source table cleared by each resync,
// each publisher would be "heard of for the first time" after the other's resync, and
// its recent LostAt would resync again, and so on while the LostAt is recent.)
func TestOneResyncPerFailedPublish(t *testing.T) {
	p := bus.Prefix(prefix(t))
	a, _ := newBus(t, srv, p)
	c, _ := newBus(t, srv, p)
	b, _ := newBus(t, srv, p)
	in := inbox(b)
	// recv reads b's messages until key arrives, counting the resyncs on the way.
	resyncs := 0
	recv := func(key string) {
		t.Helper()
		for {
			m := next(t, in)
			if m.Topic == cached.TopicResync {
				resyncs++
				continue
			}
			if m.Key == key {
				return
			}
		}
	}
	publish(t, a, cached.Message{Topic: "t", Key: "a0"})
	recv("a0")
	publish(t, c, cached.Message{Topic: "t", Key: "c0"})
	recv("c0")

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, x := range []*bus.Etcd{a, c} {
		if err := x.Publish(cancelled, cached.Message{Topic: "t", Key: "lost"}); err == nil {
			t.Fatal("Publish with a cancelled context succeeded")
		}
	}
	const rounds = 4
	for i := 1; i <= rounds; i++ {
		for _, x := range []struct {
			bus  *bus.Etcd
			name string
		}{{a, "a"}, {c, "c"}} {
			key := fmt.Sprint(x.name, i)
			publish(t, x.bus, cached.Message{Topic: "t", Key: key})
			recv(key)
		}
	}
	if s := b.Stats(); resyncs < 1 || resyncs > 2 || s.Resyncs != uint64(resyncs) {
		t.Errorf("two failed publishes then %d events: b delivered %d resyncs (Stats.Resyncs %d, Gaps %d); want 1 or 2, at most one per failed publish",
			2*rounds, resyncs, s.Resyncs, s.Gaps)
	}
}

// TestFailedPublishDoesNotResyncPublisher: the bus whose publish failed knows it (its
// caller got the error); its own watcher sees its own gap but does not resync its own
// subscribers, whose tiers lost nothing.
func TestFailedPublishDoesNotResyncPublisher(t *testing.T) {
	a, _ := newBus(t, srv, bus.Prefix(prefix(t)))
	in := inbox(a)
	publish(t, a, cached.Message{Topic: "t", Key: "1"})
	next(t, in)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.Publish(ctx, cached.Message{Topic: "t", Key: "lost"}); err == nil {
		t.Fatal("Publish with a cancelled context succeeded")
	}
	publish(t, a, cached.Message{Topic: "t", Key: "2"})
	for {
		m := next(t, in)
		if m.Topic == cached.TopicResync {
			t.Fatalf("the publisher delivered %+v to itself; want no resync", m)
		}
		if m.Key == "2" {
			break
		}
	}
	if s := a.Stats(); s.PublishErrors != 1 || s.Resyncs != 0 || s.Gaps != 0 {
		t.Errorf("PublishErrors %d, Resyncs %d, Gaps %d; want 1, 0, 0", s.PublishErrors, s.Resyncs, s.Gaps)
	}
}

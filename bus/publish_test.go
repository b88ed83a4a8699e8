package bus_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
)

// TestPublishRefusesUndeliverableTopics: a message no subscriber could receive (no
// Topic: every reader refuses it; a "bus/" topic: the bus's own, never delivered) is
// refused with an error, before it takes a sequence number, so it is neither counted as
// a failed publish nor seen as a gap by the other buses.
func TestPublishRefusesUndeliverableTopics(t *testing.T) {
	for _, c := range []struct {
		name, topic string
		want        error
	}{
		{"empty", "", bus.ErrNoTopic},
		{"sync", "bus/sync", bus.ErrReservedTopic},
		{"reserved", "bus/other", bus.ErrReservedTopic},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := bus.Prefix(prefix(t))
			a, _ := newBus(t, srv, p)
			b, _ := newBus(t, srv, p)
			ina, inb := inbox(a), inbox(b)
			err := a.Publish(context.Background(), cached.Message{Topic: c.topic, Key: "k"})
			if !errors.Is(err, c.want) {
				t.Fatalf("Publish with Topic %q: %v; want %v", c.topic, err, c.want)
			}
			publish(t, a, cached.Message{Topic: "t", Key: "after"})
			for _, in := range []<-chan cached.Message{ina, inb} {
				if m := next(t, in); m.Key != "after" {
					t.Errorf("got %+v; want the next message, with no resync", m)
				}
			}
			if sa, sb := a.Stats(), b.Stats(); sa.PublishErrors != 0 || sa.Published != 1 || sb.Resyncs != 0 {
				t.Errorf("a.PublishErrors %d, a.Published %d, b.Resyncs %d; want 0, 1, 0",
					sa.PublishErrors, sa.Published, sb.Resyncs)
			}
		})
	}
}

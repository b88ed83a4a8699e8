package bus_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
)

// TestDeliveryBothWays: two buses on two clients deliver each other's messages and
// their own, with Source and an increasing Rev, and count them.
func TestDeliveryBothWays(t *testing.T) {
	p := bus.Prefix(prefix(t))
	a, _ := newBus(t, srv, p)
	b, _ := newBus(t, srv, p)
	ina, inb := inbox(a), inbox(b)
	publish(t, a, cached.Message{Topic: cached.TopicInvalidate, Source: "A", Func: "f", Key: "k1"})
	publish(t, b, cached.Message{Topic: cached.TopicInvalidate, Source: "B", Func: "f", Key: "k2"})
	for _, in := range []<-chan cached.Message{ina, inb} {
		m1, m2 := next(t, in), next(t, in)
		if m1.Source != "A" || m1.Key != "k1" || m2.Source != "B" || m2.Key != "k2" {
			t.Errorf("got %+v then %+v; want A's k1 then B's k2", m1, m2)
		}
		if m1.Rev == 0 || m2.Rev <= m1.Rev {
			t.Errorf("Revs %d then %d; want positive and increasing", m1.Rev, m2.Rev)
		}
	}
	if s := a.Stats(); s.Published != 1 || s.Delivered != 2 || !s.Connected || s.Resyncs != 0 {
		t.Errorf("a.Stats() = %+v; want 1 published, 2 delivered, connected, no resync", s)
	}
}

// TestLagIsMeasured: every delivered event's publish-to-delivery lag is kept.
func TestLagIsMeasured(t *testing.T) {
	a, _ := newBus(t, srv, bus.Prefix(prefix(t)))
	in := inbox(a)
	for range 10 {
		publish(t, a, cached.Message{Topic: "t"})
		next(t, in)
	}
	s := a.Stats()
	if s.LastLag <= 0 || s.LagP50 <= 0 || s.LagP99 < s.LagP50 || s.LagP99 > 5*time.Second {
		t.Errorf("lags last %v p50 %v p99 %v; want positive, ordered, plausible", s.LastLag, s.LagP50, s.LagP99)
	}
}

// TestMalformedEvent: a value under the prefix that cannot be decoded is counted. Under a
// key not shaped like a bus's event key it is foreign and skipped; under an event key
// (<bus ID>/<16 hex digits>) a bus wrote it, maybe in a newer envelope version during a
// rolling upgrade, and it may have been an invalidation: the bus resyncs. The events
// after it are delivered either way.
func TestMalformedEvent(t *testing.T) {
	for _, c := range []struct {
		name, key, value string
		resyncs          uint64
	}{
		{"foreign key skipped", "foreign/1", "not an event", 0},
		{"foreign key with event-like value skipped", "0123456789abcdef/1", "\x02", 0},
		{"event key resyncs", "0123456789abcdef/0000000000000001", "\x02newer envelope", 1},
		{"truncated event resyncs", "0123456789abcdef/00000000000000ff", "\x01", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			pfx := prefix(t)
			a, cli := newBus(t, srv, bus.Prefix(pfx))
			in := inbox(a)
			if _, err := cli.Put(context.Background(), pfx+c.key, c.value); err != nil {
				t.Fatal(err)
			}
			publish(t, a, cached.Message{Topic: "t", Key: "after"})
			if c.resyncs > 0 {
				if m := next(t, in); m.Topic != cached.TopicResync {
					t.Errorf("got %+v; want a resync", m)
				}
			}
			if m := next(t, in); m.Key != "after" {
				t.Errorf("got %+v; want the event after the malformed one", m)
			}
			if s := a.Stats(); s.Malformed != 1 || s.Resyncs != c.resyncs {
				t.Errorf("Malformed %d, Resyncs %d; want 1, %d", s.Malformed, s.Resyncs, c.resyncs)
			}
		})
	}
}

// TestPanickingSubscriber: a panic in one subscriber is recovered and counted; it and
// the others keep receiving.
func TestPanickingSubscriber(t *testing.T) {
	a, _ := newBus(t, srv, bus.Prefix(prefix(t)))
	a.Subscribe(func(cached.Message) { panic("boom") })
	in := inbox(a)
	for _, k := range []string{"1", "2"} {
		publish(t, a, cached.Message{Topic: "t", Key: k})
		if m := next(t, in); m.Key != k {
			t.Fatalf("got %+v; want key %s", m, k)
		}
	}
	if got := a.Stats().Panics; got != 2 {
		t.Errorf("Panics = %d; want 2", got)
	}
}

// TestClose: Close is idempotent, Publish afterwards returns ErrClosed, Subscribe
// afterwards is harmless, and the client stays usable.
func TestClose(t *testing.T) {
	a, cli := newBus(t, srv, bus.Prefix(prefix(t)))
	publish(t, a, cached.Message{Topic: "t"})
	for range 2 {
		if err := a.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	if err := a.Publish(context.Background(), cached.Message{Topic: "t"}); !errors.Is(err, bus.ErrClosed) {
		t.Errorf("Publish after Close: %v; want ErrClosed", err)
	}
	a.Subscribe(func(cached.Message) { t.Error("a subscriber of a closed bus was called") })()
	if _, err := cli.Get(context.Background(), "x"); err != nil {
		t.Errorf("the client after the bus's Close: %v; want it open", err)
	}
}

func TestNewEtcdNilClient(t *testing.T) {
	if _, err := bus.NewEtcd(nil); !errors.Is(err, bus.ErrNoClient) {
		t.Errorf("NewEtcd(nil) = %v; want ErrNoClient", err)
	}
}

func TestBadOptionsPanic(t *testing.T) {
	for name, opt := range map[string]func(){
		"empty prefix":    func() { bus.Prefix("") },
		"sub-second TTL":  func() { bus.EventTTL(500 * time.Millisecond) },
		"zero timeout":    func() { bus.Timeout(0) },
		"negative timout": func() { bus.Timeout(-time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if r, _ := recover().(string); !strings.HasPrefix(r, "bus: ") {
					t.Errorf("panic %q; want one prefixed with bus: ", r)
				}
			}()
			opt()
		})
	}
}

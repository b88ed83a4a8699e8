package bustest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/cachedgo/cached"
)

// testFields: a message reaches the subscribers of both instances, the publisher's
// included, with every field intact, whatever bytes the strings hold.
func testFields(t *testing.T, a, b cached.Bus, topic string) {
	ra, ua := record(a, topic)
	defer ua()
	rb, ub := record(b, topic)
	defer ub()
	want := cached.Message{
		Topic:  topic,
		Source: "instance-a",
		Func:   "user\x00by:id",
		Key:    "ns:user:v2:\xff\xfe 42 é",
		Data:   []byte{0, 1, 2, 0xff},
	}
	publish(t, a, want)
	for _, r := range []struct {
		rec *recorder
		who string
	}{{rb, "b (the other instance)"}, {ra, "a (the publisher, whose subscribers get its own messages)"}} {
		got := r.rec.waitFor(t, 1, r.who)
		if len(got) != 1 || !same(got[0], want) {
			t.Errorf("%s got %+v; want exactly %+v", r.who, got, want)
		}
	}
}

// testBothWays: b's messages reach a as well.
func testBothWays(t *testing.T, a, b cached.Bus, topic string) {
	ra, ua := record(a, topic)
	defer ua()
	want := cached.Message{Topic: topic, Source: "instance-b", Func: "f", Key: "k"}
	publish(t, b, want)
	if got := ra.waitFor(t, 1, "a"); !same(got[0], want) {
		t.Errorf("a got %+v; want %+v", got[0], want)
	}
}

// testOrder: one publisher's messages arrive in publication order, with Rev increasing
// (or 0 throughout, for a bus without revisions).
func testOrder(t *testing.T, a, b cached.Bus, topic string) {
	const n = 50
	rb, ub := record(b, topic)
	defer ub()
	for i := range n {
		publish(t, a, cached.Message{Topic: topic, Source: "a", Key: fmt.Sprint(i)})
	}
	got := rb.waitFor(t, n, "b")
	checkOrder(t, got, n)
}

func checkOrder(t *testing.T, got []cached.Message, n int) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("got %d messages; want %d", len(got), n)
	}
	zeroRevs := got[0].Rev == 0
	for i, m := range got {
		if m.Key != fmt.Sprint(i) {
			t.Fatalf("message %d has key %q; want %d: publication order lost", i, m.Key, i)
		}
		if zeroRevs != (m.Rev == 0) {
			t.Fatalf("message %d has Rev %d; want Rev 0 throughout or never", i, m.Rev)
		}
		if i > 0 && !zeroRevs && m.Rev <= got[i-1].Rev {
			t.Fatalf("message %d has Rev %d after %d; want Rev increasing", i, m.Rev, got[i-1].Rev)
		}
	}
}

// testUnsubscribe: after unsubscribe returns, the handler is not called again, and the
// other subscribers still are.
func testUnsubscribe(t *testing.T, a, b cached.Bus, topic string) {
	gone, unsubscribe := record(b, topic)
	stays, u := record(b, topic)
	defer u()
	publish(t, a, cached.Message{Topic: topic, Key: "0"})
	gone.waitFor(t, 1, "the subscriber before unsubscribing")
	stays.waitFor(t, 1, "the other subscriber")
	unsubscribe()
	publish(t, a, cached.Message{Topic: topic, Key: "1"})
	publish(t, a, cached.Message{Topic: topic, Key: "2"})
	stays.waitFor(t, 3, "the subscriber that stayed")
	if got := gone.got(); len(got) != 1 {
		t.Errorf("the unsubscribed handler got %d messages; want only the 1 before unsubscribing: %+v", len(got), got)
	}
}

// testSubscriptionOrder: every subscriber sees every message, in the same order.
func testSubscriptionOrder(t *testing.T, a, b cached.Bus, topic string) {
	const n = 20
	var rs []*recorder
	for range 3 {
		r, u := record(b, topic)
		defer u()
		rs = append(rs, r)
	}
	for i := range n {
		publish(t, a, cached.Message{Topic: topic, Key: fmt.Sprint(i)})
	}
	for i, r := range rs {
		t.Run(fmt.Sprint("subscriber", i), func(t *testing.T) { checkOrder(t, r.waitFor(t, n, "a subscriber"), n) })
	}
}

// testConcurrent: many goroutines publishing on both instances at once lose and
// duplicate nothing, and each goroutine's messages keep their order (run with -race).
func testConcurrent(t *testing.T, a, b cached.Bus, topic string) {
	const writers, each = 8, 25
	ra, ua := record(a, topic)
	defer ua()
	rb, ub := record(b, topic)
	defer ub()
	var wg sync.WaitGroup
	for w := range writers {
		bus := []cached.Bus{a, b}[w%2]
		wg.Go(func() {
			for i := range each {
				m := cached.Message{Topic: topic, Source: fmt.Sprint(w), Key: fmt.Sprint(i)}
				ctx, cancel := context.WithTimeout(context.Background(), wait)
				err := bus.Publish(ctx, m)
				cancel()
				if err != nil {
					t.Errorf("Publish(%+v): %v", m, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for _, r := range []struct {
		rec *recorder
		who string
	}{{ra, "a"}, {rb, "b"}} {
		got := r.rec.waitFor(t, writers*each, r.who)
		perWriter := make(map[string][]cached.Message)
		for _, m := range got {
			perWriter[m.Source] = append(perWriter[m.Source], m)
		}
		for w := range writers {
			t.Run(fmt.Sprintf("%s/writer%d", r.who, w), func(t *testing.T) { checkOrder(t, perWriter[fmt.Sprint(w)], each) })
		}
		if len(got) != writers*each {
			t.Errorf("%s got %d messages; want %d", r.who, len(got), writers*each)
		}
	}
}

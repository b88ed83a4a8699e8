// Package bustest checks that a [cached.Bus] keeps the contract documented on that
// interface, so that every implementation (cached.LocalBus, the etcd bus, a user's own)
// is held to the same rules. Call [Run] from a test of the implementation, against a real
// server where there is one:
//
//	func TestConformance(t *testing.T) {
//		bustest.Run(t, func(t *testing.T) (a, b cached.Bus) { return newPair(t) })
//	}
//
// The suite injects no failure, so it expects nothing to be lost: a [cached.TopicResync]
// is allowed (and ignored) but does not excuse a missing message.
package bustest

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// wait bounds how long the suite waits for a message to arrive.
const wait = 10 * time.Second

// Run runs the conformance suite as subtests of t. newPair returns two instances of the
// bus that share one medium (two processes' buses on one server, say); it is called
// once per subtest, and each subtest's messages are distinct, so it may return
// instances that earlier subtests used. Each instance is used through the Bus interface
// only; closing them is newPair's business (t.Cleanup).
func Run(t *testing.T, newPair func(t *testing.T) (a, b cached.Bus)) {
	run := func(name string, fn func(t *testing.T, a, b cached.Bus, topic string)) {
		t.Run(name, func(t *testing.T) {
			a, b := newPair(t)
			fn(t, a, b, fmt.Sprintf("bustest/%s/%d", name, time.Now().UnixNano()))
		})
	}
	run("Fields", testFields)
	run("BothWays", testBothWays)
	run("Order", testOrder)
	run("Unsubscribe", testUnsubscribe)
	run("SubscriptionOrder", testSubscriptionOrder)
	run("Concurrent", testConcurrent)
}

// recorder is a subscriber that keeps the messages of one topic.
type recorder struct {
	topic  string
	mu     sync.Mutex // protects msgs
	msgs   []cached.Message
	signal chan struct{} // receives (without blocking) after each message
}

func record(bus cached.Bus, topic string) (*recorder, func()) {
	r := &recorder{topic: topic, signal: make(chan struct{}, 1)}
	return r, bus.Subscribe(r.handle)
}

func (r *recorder) handle(m cached.Message) {
	if m.Topic != r.topic {
		return // TopicResync, or another subtest's or package's traffic
	}
	m.Data = bytes.Clone(m.Data)
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

func (r *recorder) got() []cached.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]cached.Message(nil), r.msgs...)
}

// waitFor waits until r holds n messages and returns them; it fails t if they do not
// arrive in time.
func (r *recorder) waitFor(t *testing.T, n int, who string) []cached.Message {
	t.Helper()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		if got := r.got(); len(got) >= n {
			return got
		}
		select {
		case <-r.signal:
		case <-deadline.C:
			got := r.got()
			t.Fatalf("%s received %d messages in %v; want %d (got %+v)", who, len(got), wait, n, got)
		}
	}
}

func publish(t *testing.T, bus cached.Bus, m cached.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := bus.Publish(ctx, m); err != nil {
		t.Fatalf("Publish(%+v): %v", m, err)
	}
}

// same reports whether got carries want's fields, Rev aside.
func same(got, want cached.Message) bool {
	return got.Topic == want.Topic && got.Source == want.Source && got.Func == want.Func &&
		got.Key == want.Key && bytes.Equal(got.Data, want.Data)
}

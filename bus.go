package cached

import (
	"context"
	"sync"
)

// Bus carries messages between the instances that share a [Store], so that a change on one
// instance reaches the in-process tiers of all of them (package bus puts one on etcd).
// The engine publishes a [TopicInvalidate] message for every Put and Invalidate and drops
// the key from its own in-process tier when another instance's message arrives. Other
// packages use their own topics on the same Bus.
//
// Implementations must be safe for concurrent use.
type Bus interface {
	// Publish sends m to every subscriber of every instance, this one included. An
	// error means m may not have been delivered.
	Publish(ctx context.Context, m Message) error

	// Subscribe calls h for every message published from now on, in publication order,
	// until unsubscribe is called. h must not block for long: it runs on the bus's
	// delivery path. A bus that may have lost messages (a watcher that fell behind, a
	// reconnect) must deliver a [TopicResync] message to its subscribers so that they
	// drop what they can no longer trust; losing messages silently is a bug.
	Subscribe(h func(Message)) (unsubscribe func())
}

// Message is one message on a [Bus].
type Message struct {
	// Topic says what the message is about: [TopicInvalidate], [TopicResync] or a topic
	// of another package ("bloom/add"); subscribers ignore topics they do not know.
	Topic string
	// Source identifies the publishing instance; a subscriber usually ignores its own
	// messages.
	Source string
	// Func is the function a [TopicInvalidate] message is about.
	Func string
	// Key is the full cache key a [TopicInvalidate] message is about.
	Key string
	// Data is a payload for other topics.
	Data []byte
	// Rev is the bus's sequence number for the message, 0 when the bus has none.
	Rev uint64
}

// Topics the engine publishes and understands.
const (
	// TopicInvalidate drops Message.Key from the in-process tier of every other instance.
	TopicInvalidate = "cached/invalidate"
	// TopicResync tells subscribers that messages may have been lost: the engine drops
	// every in-process tier of the Cache. A Bus delivers it; nobody publishes it.
	TopicResync = "cached/resync"
)

// LocalBus is a [Bus] within one process: each [Cache] that shares it acts as one
// instance. It serves tests and single-process set-ups with several Caches. Publish
// delivers synchronously to every subscriber, in subscription order. The zero value is
// ready to use; a LocalBus is safe for concurrent use.
type LocalBus struct {
	mu   sync.Mutex // protects subs and next
	subs map[uint64]func(Message)
	next uint64
	rev  uint64
}

// Publish delivers m to every subscriber. It never fails.
func (b *LocalBus) Publish(ctx context.Context, m Message) error {
	b.mu.Lock()
	b.rev++
	m.Rev = b.rev
	hs := make([]func(Message), 0, len(b.subs))
	for id := uint64(0); id < b.next; id++ {
		if h, ok := b.subs[id]; ok {
			hs = append(hs, h)
		}
	}
	b.mu.Unlock()
	for _, h := range hs {
		h(m)
	}
	return nil
}

// Subscribe registers h.
func (b *LocalBus) Subscribe(h func(Message)) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = make(map[uint64]func(Message))
	}
	id := b.next
	b.next++
	b.subs[id] = h
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

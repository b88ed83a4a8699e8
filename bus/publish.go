package bus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cachedgo/cached"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Publish writes m as one event key, <prefix><ID>/<sequence as 16 hex digits>, attached
// to the current event lease (see [EventTTL]); every subscriber of every bus on the
// prefix, this one included, receives it with Rev set to the key's etcd revision.
//
// Publish returns once etcd has stored the event, or with an error when it could not be
// stored in time. One budget bounds the whole call: ctx, and the [Timeout] when ctx has
// no earlier deadline; the wait behind this bus's earlier publishes, the lease grant and
// the write all share it, so with etcd down every Publish returns within about the
// Timeout however many are queued. An error means m may not have been delivered; since
// the failed publish took a sequence number (or, if it gave up waiting for its turn,
// made the next publish skip one), every other bus that later reads this bus's next
// event sees a gap and delivers a [cached.TopicResync] (the invalidation that may be
// lost is never lost silently). Such failures are counted in Stats.PublishErrors.
//
// A message with an empty Topic is refused with an error wrapping [ErrNoTopic], and one
// whose Topic starts with "bus/" with [ErrReservedTopic]; neither takes a sequence
// number nor counts as a publish error. After Close, Publish returns [ErrClosed]. It
// never waits for the watcher.
//
// Publishes of one bus are written one at a time, so that sequence numbers reach etcd in
// order; the rate of one bus is therefore bounded by etcd's write latency (about a
// thousand a second on a local network), enough for invalidations, which follow writes.
func (b *Etcd) Publish(ctx context.Context, m cached.Message) error {
	switch {
	case m.Topic == "":
		return fmt.Errorf("%w: publish %q", ErrNoTopic, m.Key)
	case strings.HasPrefix(m.Topic, reservedTopics):
		return fmt.Errorf("%w: publish %s %q", ErrReservedTopic, m.Topic, m.Key)
	}
	err := b.publish(ctx, m, false)
	if err == nil || errors.Is(err, ErrClosed) {
		return err
	}
	b.c.publishErrors.Add(1)
	b.log.Warn("bus: publish failed", "topic", m.Topic, "key", m.Key, "err", err)
	return fmt.Errorf("bus: publish %s %q: %w", m.Topic, m.Key, err)
}

// publish writes m under the next sequence number. sync marks the bus's own topicSync
// event: it is written only while a loss is unsignalled, and its failure records no new
// loss (see signalLoss).
func (b *Etcd) publish(ctx context.Context, m cached.Message, sync bool) error {
	if b.closed.Load() {
		return ErrClosed
	}
	// The wait for the slot spends the same budget as the requests. Why not wait on ctx
	// alone: with etcd down, each queued publish would wait for all the ones before it
	// to time out, then time out itself, returning after n×Timeout.
	ctx, cancel := b.rpcContext(ctx)
	defer cancel()
	select {
	case b.pub <- struct{}{}:
	case <-b.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		if b.ctx.Err() != nil {
			return ErrClosed
		}
		if !sync {
			// No sequence number taken: make the next publish skip one, so the loss
			// shows as a gap all the same.
			b.skip.Add(1)
			b.lostAt.Store(time.Now().UnixNano())
		}
		return ctx.Err()
	}
	defer func() { <-b.pub }()
	if b.closed.Load() {
		return ErrClosed
	}
	if sync && !b.lossUnsignalled() {
		return nil // an event published meanwhile carried the gap
	}

	b.seq += 1 + b.skip.Swap(0)
	now := time.Now()
	env := envelope{Bus: b.id, Seq: b.seq, Time: now.UnixNano(), LostAt: b.lostAt.Load(), Msg: m}
	lease, err := b.currentLease(ctx, now)
	if err == nil {
		var resp *clientv3.PutResponse
		key := fmt.Sprintf("%s%s/%016x", b.cfg.prefix, b.id, env.Seq)
		resp, err = b.cli.Put(ctx, key, string(env.encode()), clientv3.WithLease(lease))
		if err == nil {
			if !sync {
				b.c.published.Add(1)
			}
			b.c.seen(resp.Header.Revision)
			b.gapOpen.Store(false) // this event carries the gap to the other buses
			return nil
		}
	}
	b.lease = 0 // the lease may be gone (etcd restarted, expired early): grant a new one
	if !sync {
		// A failed sync event loses no message: the loss it was to signal is still
		// unsignalled, and LostAt keeps that loss's time.
		b.lostAt.Store(now.UnixNano())
	}
	b.gapOpen.Store(true)
	return err
}

// rpcContext bounds ctx by the Timeout unless it has an earlier deadline.
func (b *Etcd) rpcContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= b.cfg.timeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, b.cfg.timeout)
}

// currentLease returns the lease to attach a new event to, granting a new one when the
// current one is older than EventTTL/2. Old leases are neither kept alive nor revoked:
// they expire and take their keys with them. Callers hold b.pub.
//
// Why a lease per EventTTL/2 and not one kept alive: a kept-alive lease never expires
// while the bus lives, so its keys would pile up; a lease per event would double the
// requests.
func (b *Etcd) currentLease(ctx context.Context, now time.Time) (clientv3.LeaseID, error) {
	if b.lease != 0 && now.Sub(b.leaseAt) < b.cfg.ttl/2 {
		return b.lease, nil
	}
	resp, err := b.cli.Grant(ctx, int64(b.cfg.ttl/time.Second))
	if err != nil {
		return 0, fmt.Errorf("granting the event lease: %w", err)
	}
	b.c.seen(resp.Revision)
	b.lease, b.leaseAt = resp.ID, now
	return b.lease, nil
}

// reservedTopics is the topic namespace of the bus's own events; Publish refuses it.
const reservedTopics = "bus/"

// topicSync is the topic of the event a bus publishes after a failed publish when nothing
// else follows it, so that the others see the gap (and resync) without waiting for the
// next real message. It is not delivered to subscribers.
const topicSync = reservedTopics + "sync"

// lossUnsignalled reports a failed publish that no later event has reported yet.
func (b *Etcd) lossUnsignalled() bool { return b.skip.Load() > 0 || b.gapOpen.Load() }

// signalLoss publishes a topicSync event in the background, unless one is under way.
// The watcher calls it; Close waits for it. Its failures are neither counted as publish
// errors nor logged above Debug: the loss it signals was counted when it happened, and
// the next probe tick tries again.
func (b *Etcd) signalLoss() {
	if !b.lossUnsignalled() || !b.syncing.CompareAndSwap(false, true) {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.syncing.Store(false)
		defer b.recoverPanic("sync publish")
		err := b.publish(b.ctx, cached.Message{Topic: topicSync}, true)
		if err != nil && b.ctx.Err() == nil {
			b.log.Debug("bus: sync event not written; will retry", "err", err)
		}
	}()
}

// recoverPanic, deferred in a goroutine of the bus, recovers a panic of the bus's own
// code (a bug), counts it in Stats.Panics and logs it.
func (b *Etcd) recoverPanic(where string) {
	if r := recover(); r != nil {
		b.c.panics.Add(1)
		b.log.Error("bus: panic in "+where, "panic", r)
	}
}

package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/cachedgo/cached"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Publish writes m as one event key, <prefix><ID>/<sequence as 16 hex digits>, attached
// to the current event lease (see [EventTTL]); every subscriber of every bus on the
// prefix, this one included, receives it with Rev set to the key's etcd revision.
//
// Publish returns once etcd has stored the event, or with an error when it could not be
// stored in time: each etcd request is bounded by ctx and by the [Timeout], and a
// Publish waiting behind another of this bus leaves when ctx ends. An error means m may
// not have been delivered; since the failed publish took a sequence number, every bus
// that later reads this bus's next event sees a gap and delivers a [cached.TopicResync]
// (the invalidation that may be lost is never lost silently). After Close it returns
// [ErrClosed]. It never waits for the watcher.
//
// Publishes of one bus are written one at a time, so that sequence numbers reach etcd in
// order; the rate of one bus is therefore bounded by etcd's write latency (about a
// thousand a second on a local network), enough for invalidations, which follow writes.
func (b *Etcd) Publish(ctx context.Context, m cached.Message) error {
	if b.closed.Load() {
		return ErrClosed
	}
	select {
	case b.pub <- struct{}{}:
	case <-b.ctx.Done():
		return ErrClosed
	case <-ctx.Done():
		// No sequence number taken: make the next publish skip one, so the loss shows
		// as a gap all the same.
		b.skip.Add(1)
		b.lostAt.Store(time.Now().UnixNano())
		return b.failed(m, ctx.Err())
	}
	defer func() { <-b.pub }()
	if b.closed.Load() {
		return ErrClosed
	}
	rctx, cancel := b.rpcContext(ctx)
	defer cancel()

	b.seq += 1 + b.skip.Swap(0)
	now := time.Now()
	env := envelope{Bus: b.id, Seq: b.seq, Time: now.UnixNano(), LostAt: b.lostAt.Load(), Msg: m}
	lease, err := b.currentLease(rctx, now)
	if err == nil {
		var resp *clientv3.PutResponse
		key := fmt.Sprintf("%s%s/%016x", b.cfg.prefix, b.id, env.Seq)
		resp, err = b.cli.Put(rctx, key, string(env.encode()), clientv3.WithLease(lease))
		if err == nil {
			b.c.published.Add(1)
			b.c.seen(resp.Header.Revision)
			b.gapOpen.Store(false) // this event carries the gap to the other buses
			return nil
		}
	}
	b.lease = 0 // the lease may be gone (etcd restarted, expired early): grant a new one
	b.lostAt.Store(now.UnixNano())
	b.gapOpen.Store(true)
	return b.failed(m, err)
}

func (b *Etcd) failed(m cached.Message, err error) error {
	b.c.publishErrors.Add(1)
	b.log.Warn("bus: publish failed", "topic", m.Topic, "key", m.Key, "err", err)
	return fmt.Errorf("bus: publish %s %q: %w", m.Topic, m.Key, err)
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

// topicSync is the topic of the event a bus publishes after a failed publish when nothing
// else follows it, so that the others see the gap (and resync) without waiting for the
// next real message. It is not delivered to subscribers.
const topicSync = "bus/sync"

// lossUnsignalled reports a failed publish that no later event has reported yet.
func (b *Etcd) lossUnsignalled() bool { return b.skip.Load() > 0 || b.gapOpen.Load() }

// signalLoss publishes a topicSync event in the background, unless one is under way.
// The watcher calls it; Close waits for it.
func (b *Etcd) signalLoss() {
	if !b.lossUnsignalled() || !b.syncing.CompareAndSwap(false, true) {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		defer b.syncing.Store(false)
		b.Publish(b.ctx, cached.Message{Topic: topicSync})
	}()
}

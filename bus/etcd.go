package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// Etcd is a [cached.Bus] on etcd: each message is a key under the prefix, and one
// watcher goroutine per Etcd delivers the keys it sees to the subscribers. Build one with
// [NewEtcd] and [Etcd.Close] it when done; see the package documentation for what it
// guarantees and how loss is reported.
//
// An Etcd is safe for concurrent use. Its subscribers are called one at a time, on its
// watcher goroutine.
type Etcd struct {
	cli    *clientv3.Client
	cfg    config
	id     string
	log    *slog.Logger
	ctx    context.Context // ended by Close: stops the watcher and waiting publishers
	cancel context.CancelFunc
	done   chan struct{} // closed when the watcher has returned
	closed atomic.Bool
	c      counters
	lags   lagRing

	// pub is a one-slot semaphore held across a publish, so that this bus's sequence
	// numbers reach etcd in order (see Publish); the fields below it are guarded by it.
	pub     chan struct{}
	seq     uint64           // the last sequence number taken
	lease   clientv3.LeaseID // the lease new events are attached to; 0 if none
	leaseAt time.Time        // when lease was granted

	skip    atomic.Uint64  // publishes that failed before taking a sequence number
	gapOpen atomic.Bool    // a publish failed after taking one and none succeeded since
	lostAt  atomic.Int64   // when the newest failed Publish was, unix nanoseconds
	syncing atomic.Bool    // a signalLoss publish is under way
	wg      sync.WaitGroup // the signalLoss goroutine

	mu      sync.Mutex // protects nextSub and the writes of subs
	nextSub uint64
	subs    atomic.Pointer[[]sub] // in subscription order; replaced, never modified

	w watchState // owned by the watcher goroutine
}

type sub struct {
	id uint64
	h  func(cached.Message)
}

// NewEtcd returns a bus on cli and starts its watcher. It reads etcd's current revision
// once (bounded by the Timeout) so that every message published after it returns is
// delivered; when etcd cannot be reached, NewEtcd does not fail: the watcher keeps
// trying in the background and, once it starts, delivers a [cached.TopicResync], since
// messages published meanwhile were not seen. The only error is [ErrNoClient], for a nil
// cli (a programmer error, reported as an error so that NewEtcd keeps the signature of a
// constructor that dials).
//
// The bus never closes cli: Close the bus, then the client.
func NewEtcd(cli *clientv3.Client, opts ...Option) (*Etcd, error) {
	if cli == nil {
		return nil, ErrNoClient
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	log := cfg.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &Etcd{
		cli: cli, cfg: cfg, id: newID(), ctx: ctx, cancel: cancel,
		done: make(chan struct{}), pub: make(chan struct{}, 1),
	}
	b.log = log.With("bus", b.id)
	b.subs.Store(new([]sub))
	b.w.sources = make(map[string]source)
	b.w.next = cfg.startRev
	if b.w.next == 0 {
		b.w.next = b.startRev(ctx)
	}
	b.w.since = time.Now()
	go b.run()
	return b, nil
}

func newID() string {
	var r [8]byte
	rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// ID returns the name this bus writes its events under: prefix + ID + "/" + sequence.
func (b *Etcd) ID() string { return b.id }

// Subscribe calls h for every message published (by any instance on the prefix, this one
// included) from now on, until unsubscribe is called, on the bus's watcher goroutine and
// after the subscribers registered before it. h must not block for long: it delays every
// later message. A panic in h is recovered, logged and counted (Stats.Panics); delivery
// goes on. h may call Subscribe, unsubscribe and Publish. Subscribing after Close is
// harmless: h is never called. unsubscribe may be called more than once.
func (b *Etcd) Subscribe(h func(cached.Message)) (unsubscribe func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextSub
	b.nextSub++
	subs := append(append([]sub(nil), *b.subs.Load()...), sub{id, h})
	b.subs.Store(&subs)
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		old := *b.subs.Load()
		subs := make([]sub, 0, len(old))
		for _, s := range old {
			if s.id != id {
				subs = append(subs, s)
			}
		}
		b.subs.Store(&subs)
	}
}

// Close stops the watcher and waits for it (a subscriber call in progress finishes
// first), then revokes the current event lease, best effort and for at most a second,
// which removes this bus's recent event keys early (watchers that have not read them yet
// still get them from etcd's history). A Publish in progress finishes or fails first;
// one waiting for its turn, and later ones, return [ErrClosed]. Close never closes the
// etcd client. It is idempotent and returns nil. A subscriber must not call Close: it
// would wait for itself.
func (b *Etcd) Close() error {
	if b.closed.Swap(true) {
		<-b.done
		return nil
	}
	b.cancel()
	<-b.done
	b.wg.Wait()
	b.pub <- struct{}{}
	lease := b.lease
	b.lease = 0
	<-b.pub
	if lease != 0 {
		ctx, cancel := context.WithTimeout(context.Background(), min(b.cfg.timeout, time.Second))
		defer cancel()
		if _, err := b.cli.Revoke(ctx, lease); err != nil {
			b.log.Debug("bus: revoking the event lease at close", "err", err)
		}
	}
	return nil
}

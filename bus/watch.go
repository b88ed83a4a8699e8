package bus

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchState is the watcher goroutine's own state: no lock, nobody else touches it
// (NewEtcd sets it before starting the goroutine).
type watchState struct {
	next      int64             // the revision to watch from: after the last processed event
	resyncDue string            // why to resync before the next watch; "" if no need
	since     time.Time         // when the last resync was delivered, or the bus started
	gen       uint64            // resyncs delivered so far
	sources   map[string]source // per publishing bus: see source
	swept     time.Time         // when sources was last swept
	everUp    bool              // a watch was established before
	lost      bool              // a watch was lost and not yet re-established
	gotFirst  bool              // the current watch has been established
}

// startRev reads etcd's current revision, bounded by the Timeout, and returns the
// revision to watch from, or 0 when etcd could not be read.
func (b *Etcd) startRev(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.timeout)
	defer cancel()
	resp, err := b.cli.Get(ctx, b.cfg.prefix, clientv3.WithCountOnly())
	if err != nil {
		b.log.Warn("bus: cannot read etcd's revision; will resync once it can", "err", err)
		return 0
	}
	b.c.done(resp.Header.Revision)
	return resp.Header.Revision + 1
}

// run is the watcher goroutine: it keeps a watch on the prefix open, re-establishing it
// (with backoff) from the last processed revision whenever it is lost, until Close.
func (b *Etcd) run() {
	defer close(b.done)
	backoff := newBackoff(b.cfg.timeout)
	for b.ctx.Err() == nil {
		b.watch(backoff)
	}
}

var (
	errSilent    = errors.New("etcd did not answer progress requests")
	errCompacted = errors.New("compacted")
)

// watch runs one watch session, from reading etcd's revision if NewEtcd could not to
// the wait before the next attempt. A panic in the bus's own code (subscribers' panics
// are recovered where they are called) is recovered, counted and logged: the session
// ends, and since an event may have been half processed, the next one starts with a
// resync.
func (b *Etcd) watch(backoff *backoff) {
	defer func() {
		if r := recover(); r != nil {
			b.c.connected.Store(false)
			b.c.panics.Add(1)
			b.log.Error("bus: panic in the watcher; resyncing", "panic", r)
			b.w.resyncDue = "the watcher panicked"
			b.w.lost = b.w.everUp
			backoff.wait(b.ctx)
		}
	}()
	if b.w.next == 0 {
		if b.w.next = b.startRev(b.ctx); b.w.next == 0 {
			backoff.wait(b.ctx)
			return
		}
		b.w.resyncDue = "the bus started before it could read etcd"
	}
	if why := b.w.resyncDue; why != "" {
		b.w.resyncDue = ""
		b.resync(why)
	}
	err := b.session()
	b.c.connected.Store(false)
	switch {
	case b.ctx.Err() != nil:
		return
	case errors.Is(err, errCompacted):
		// Not a lost watch: handle resynced; watch again at once from the oldest
		// revision etcd kept.
		return
	}
	if b.w.gotFirst {
		backoff.reset()
	}
	b.w.lost = b.w.everUp
	b.log.Warn("bus: watch lost; reconnecting", "from", b.w.next, "err", err)
	backoff.wait(b.ctx)
}

// session watches from b.w.next until the watch is lost or the bus closed.
func (b *Etcd) session() error {
	b.w.gotFirst = false
	// WithRequireLeader: a member that lost its leader cancels the watch rather than
	// leaving it silent.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(b.ctx))
	defer cancel()
	wch := b.cli.Watch(wctx, b.cfg.prefix, clientv3.WithPrefix(), clientv3.WithRev(b.w.next),
		clientv3.WithFilterDelete(), clientv3.WithProgressNotify(), clientv3.WithCreatedNotify())
	probe := max(b.cfg.timeout/2, time.Millisecond)
	tick := time.NewTicker(probe)
	defer tick.Stop()
	heard := time.Now()
	for {
		select {
		case <-b.ctx.Done():
			return b.ctx.Err()
		case resp, ok := <-wch:
			if !ok {
				return errors.New("watch channel closed")
			}
			done, err := b.handle(&resp)
			if done {
				return err
			}
			heard = time.Now() // after the subscribers: a slow one is not a silent etcd
		case <-tick.C:
			b.signalLoss()
			b.sweep()
			if time.Since(heard) > 2*b.cfg.timeout {
				return errSilent
			}
			if b.w.gotFirst {
				// The answer (or its absence) shows whether the stream is alive;
				// RequestProgress waits only while the client is reconnecting.
				pctx, pcancel := context.WithTimeout(wctx, probe)
				b.cli.RequestProgress(pctx)
				pcancel()
			}
		}
	}
}

// handle processes one watch response; done means the watch is over.
func (b *Etcd) handle(resp *clientv3.WatchResponse) (done bool, err error) {
	b.c.seen(resp.Header.Revision)
	if resp.CompactRevision != 0 {
		// The history from b.w.next on is gone: what was there may be lost.
		b.log.Warn("bus: fell behind etcd's compaction; resyncing and watching from the compact revision",
			"from", b.w.next, "compacted", resp.CompactRevision)
		b.w.next = resp.CompactRevision
		b.resync("the watcher fell behind etcd's compaction")
		return true, errCompacted
	}
	if err := resp.Err(); err != nil {
		return true, err
	}
	switch {
	case resp.Created:
		b.w.gotFirst = true
		b.c.connected.Store(true)
		if b.w.lost {
			b.c.reconnects.Add(1)
			b.log.Info("bus: watch re-established", "from", b.w.next)
		}
		b.w.everUp, b.w.lost = true, false
	case resp.IsProgressNotify():
		b.c.done(resp.Header.Revision)
	default:
		for _, ev := range resp.Events {
			b.event(ev.Kv.Key, ev.Kv.Value, ev.Kv.ModRevision)
		}
	}
	return false, nil
}

// backoff doubles a wait from 50ms up to a cap, with no jitter: one watcher per bus.
type backoff struct{ d, max time.Duration }

func newBackoff(max time.Duration) *backoff { return &backoff{d: 50 * time.Millisecond, max: max} }

func (b *backoff) reset() { b.d = 50 * time.Millisecond }

func (b *backoff) wait(ctx context.Context) {
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	b.d = min(2*b.d, b.max)
}

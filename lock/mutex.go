package lock

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// The mutex protocol is etcd's concurrency.Mutex, kept key for key (a waiter puts
// name/<lease in hex> under its session's lease; the key with the lowest create revision
// holds the mutex; each waiter watches the deletion of the key just before its own), so
// that etcdctl lock and other etcd clients interoperate. It is written out here rather
// than called because concurrency.Mutex.Lock, when its wait fails, deletes its key with
// the client's context, which has no deadline: with etcd unreachable the call would hang
// past the caller's context, and Lock must never do that.

// held is a lock this process holds.
type held struct {
	l    *Etcd
	s    *concurrency.Session
	name string    // the mutex
	key  string    // this holder's key under it
	rev  int64     // key's create revision: the fencing token; 0 if unknown (see cleanup)
	late time.Time // with rev 0: the deadline of the request that may have queued key
	loc  *localLock
	done atomic.Bool // Unlock was called
}

// Fence returns the mutex key's create revision, which grows with every acquisition.
func (h *held) Fence() uint64 { return uint64(h.rev) }

// Unlock releases the lock. It returns [ErrLost] when the lock was no longer held (the
// session's lease expired), [ErrNotHeld] when called twice, and an error when etcd did not
// answer (the Locker then stops keeping its session alive, so the lock is freed when the
// lease runs out) or ctx ended first (the lock is then released in the background: a
// caller that stops waiting does not leave its key behind).
func (h *held) Unlock(ctx context.Context) error {
	if !h.done.CompareAndSwap(false, true) {
		return ErrNotHeld
	}
	if err := ctx.Err(); err != nil {
		h.l.cleanup(h, h.loc)
		return fmt.Errorf("lock: unlock %s: %w (released in the background)", h.name, err)
	}
	ok, err := h.l.remove(ctx, h)
	switch {
	case err != nil && ctx.Err() != nil:
		h.l.cleanup(h, h.loc)
		return fmt.Errorf("lock: unlock %s: %w (released in the background)", h.name, err)
	case err != nil:
		h.l.abandon(h.s)
		h.l.leave(h.name, h.loc)
		return fmt.Errorf("lock: unlock %s: %w (freed when the session's lease expires)", h.name, err)
	}
	h.l.leave(h.name, h.loc)
	if !ok {
		h.l.stats.lost.Add(1)
		return ErrLost
	}
	return nil
}

// acquire takes the etcd mutex name for this process, which holds name's local lock loc.
// On failure it gives loc back, at once or, when a key of this process must first leave
// etcd's queue, once the key is gone: the call itself does not wait for that.
func (l *Etcd) acquire(ctx context.Context, name string, loc *localLock) (*held, error) {
	h, err := l.tryAcquire(ctx, name)
	if err != nil {
		if h == nil {
			l.leave(name, loc)
		} else {
			l.cleanup(h, loc)
		}
		return nil, err
	}
	h.loc = loc
	return h, nil
}

// cleanup deletes h's key in the background, then gives back loc (before that, a caller of
// this process would find the key and take it for its own). When etcd does not answer, the
// session is abandoned, so that its lease, and the key with it, expires. After Close there
// is nothing to do: Close revoked the session's lease, and the key with it.
func (l *Etcd) cleanup(h *held, loc *localLock) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		l.leave(h.name, loc)
		return
	}
	l.wg.Add(1) // under l.mu, so that it cannot race Close's Wait
	l.mu.Unlock()
	go func() {
		defer l.wg.Done()
		defer l.leave(h.name, loc)
		if _, err := l.remove(context.Background(), h); err != nil {
			l.abandon(h.s)
			return
		}
		if h.rev != 0 {
			return
		}
		// The request that queued the key failed on its way back, or is still on its way
		// to etcd: it may be applied after this delete. Look again once it cannot be (its
		// deadline has passed and etcd has had time to apply what it accepted).
		t := time.NewTimer(time.Until(h.late) + lateApply)
		defer t.Stop()
		select {
		case <-t.C:
		case <-l.ctx.Done():
			return // Close revoked the lease, and the key with it
		}
		if _, err := l.remove(context.Background(), h); err != nil {
			l.abandon(h.s)
		}
	}()
}

// lateApply is how long after a request's deadline etcd may still apply it.
const lateApply = time.Second

// tryAcquire takes the etcd mutex name. On failure, h is the key this process left in the
// mutex's queue, if any.
func (l *Etcd) tryAcquire(ctx context.Context, name string) (h *held, err error) {
	if !l.br.Allow(time.Now()) {
		l.stats.rejected.Add(1)
		return nil, ErrUnavailable
	}
	var s *concurrency.Session
	var resp *clientv3.TxnResponse
	pfx := name + "/"
	var key string
	for attempt := 0; ; attempt++ {
		start := time.Now()
		if s, err = l.session(ctx); err != nil {
			return nil, l.failed(start, "session", err)
		}
		key = fmt.Sprintf("%s%x", pfx, s.Lease())
		owner := clientv3.OpGet(pfx, clientv3.WithFirstCreate()...)
		resp, err = l.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
			Then(clientv3.OpPut(key, "", clientv3.WithLease(s.Lease())), owner).
			Else(clientv3.OpGet(key), owner).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			// The session's lease expired before its keep-alive noticed: replace it.
			l.abandon(s)
			continue
		}
		if err != nil {
			// The request may have been applied all the same (its context ended on
			// the way back): the key may be queued, and must not be left there.
			late, ok := ctx.Deadline()
			if !ok {
				late = time.Now()
			}
			return &held{l: l, s: s, name: name, key: key, late: late}, l.failed(start, "acquire", err)
		}
		break
	}
	l.br.Success()
	h = &held{l: l, s: s, name: name, key: key, rev: resp.Header.Revision}
	if !resp.Succeeded { // this session's key is already queued (left by a failed wait)
		h.rev = resp.Responses[0].GetResponseRange().Kvs[0].CreateRevision
	}
	first := resp.Responses[1].GetResponseRange().Kvs
	if len(first) == 0 || first[0].CreateRevision == h.rev {
		l.stats.acquired.Add(1)
		return h, nil
	}
	start := time.Now()
	if err := l.wait(ctx, pfx, h.rev-1); err != nil {
		// Leave the queue (the caller's cleanup), or the next waiter waits for us.
		if ctx.Err() != nil {
			l.stats.timeouts.Add(1)
			return h, ctx.Err()
		}
		return h, l.failed(start, "wait", err)
	}
	// The session's lease may have expired while it waited: then the key is gone and the
	// lock was never held.
	start = time.Now()
	g, err := l.cli.Get(ctx, key)
	if err != nil {
		return h, l.failed(start, "acquire", err)
	}
	if len(g.Kvs) == 0 || g.Kvs[0].CreateRevision != h.rev {
		l.stats.lost.Add(1)
		return nil, ErrLost
	}
	l.stats.acquired.Add(1)
	l.stats.contended.Add(1)
	return h, nil
}

// wait returns once no key under pfx has a create revision up to maxRev: every holder
// and waiter queued before this one is gone.
func (l *Etcd) wait(ctx context.Context, pfx string, maxRev int64) error {
	opts := append(clientv3.WithLastCreate(), clientv3.WithMaxCreateRev(maxRev))
	for {
		resp, err := l.cli.Get(ctx, pfx, opts...)
		if err != nil {
			return err
		}
		if len(resp.Kvs) == 0 {
			return nil
		}
		if err := l.waitDelete(ctx, string(resp.Kvs[0].Key), resp.Kvs[0].CreateRevision); err != nil {
			return err
		}
	}
}

// waitDelete returns once key, as created at rev, is deleted, or the watch ends; the
// caller then looks again. A key of the same name created again later (the same session
// queueing again, behind this waiter) is another waiter, not the one waited for.
//
// The watch starts at etcd's current revision, and only then is the key read again: a
// watch from an older revision (the previous read's, as concurrency.Mutex does) is one etcd
// catches up in the background every 100ms, which added up to 100ms to every hand-over of a
// contended lock (seen as a long tail in bench/ BenchmarkLockStorm).
func (l *Etcd) waitDelete(ctx context.Context, key string, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := l.cli.Watch(wctx, key, clientv3.WithFilterPut(), clientv3.WithCreatedNotify())
	created, ok := <-wch
	if !ok {
		return ctx.Err()
	}
	if created.Err() != nil {
		return nil // look again
	}
	g, err := l.cli.Get(ctx, key)
	if err != nil {
		return err
	}
	if len(g.Kvs) == 0 || g.Kvs[0].CreateRevision != rev {
		return nil
	}
	for wr := range wch {
		if len(wr.Events) > 0 || wr.Err() != nil {
			return nil // deleted, or the watch failed (lost leader): look again
		}
	}
	return ctx.Err() // the channel closes when ctx ends
}

// remove deletes h's key if it is still h's: if it has h's create revision, or, when that
// is unknown (rev 0: the request that queued it failed, and may or may not have been
// applied), if it is under h's session's lease. ok is false when it was gone: the lease
// expired and the lock was lost.
func (l *Etcd) remove(ctx context.Context, h *held) (ok bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, min(l.cfg.ttl, 2*time.Second))
	defer cancel()
	cmp := clientv3.Compare(clientv3.CreateRevision(h.key), "=", h.rev)
	if h.rev == 0 {
		cmp = clientv3.Compare(clientv3.LeaseValue(h.key), "=", h.s.Lease())
	}
	resp, err := l.cli.Txn(ctx).If(cmp).Then(clientv3.OpDelete(h.key)).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// failed counts a request etcd did not answer against the breaker, unless it says nothing
// of etcd: the request was cancelled (Close, or a caller leaving), or its context ran out
// before etcd had a fair chance to answer (minAnswer after start).
func (l *Etcd) failed(start time.Time, op string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrClosed) ||
		(errors.Is(err, context.DeadlineExceeded) && time.Since(start) < minAnswer) {
		l.br.Abandon()
	} else {
		l.stats.errors.Add(1)
		if l.br.Failure(time.Now()) {
			l.stats.trips.Add(1)
		}
	}
	return fmt.Errorf("lock: %s: %w", op, err)
}

// minAnswer is how long a request must have had before its timing out counts against
// etcd: a caller whose context is all but spent must not open the breaker for everyone.
const minAnswer = 50 * time.Millisecond

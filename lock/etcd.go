package lock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/breaker"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Etcd is a [cached.Locker] on etcd: one etcd mutex per cache key, all held through one
// session (a lease kept alive) per Locker. It is safe for concurrent use.
type Etcd struct {
	cli *clientv3.Client
	cfg config
	br  *breaker.Breaker

	ctx    context.Context // the sessions' life: cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // clean-ups of failed acquisitions

	mu     sync.Mutex // protects the fields below
	sess   *concurrency.Session
	making chan struct{}         // closed when the session being created is ready; nil if none is
	closed bool                  // Close was called
	local  map[string]*localLock // by mutex name: the holder and waiters in this process

	stats counters
}

var _ cached.Locker = (*Etcd)(nil)

// NewEtcd returns a Locker on cli. It does not reach etcd: the session is created by the
// first Lock (so a process starts while etcd is down, and locks once it is back). The
// caller keeps ownership of cli and closes it after the Locker's Close. The error is for
// a nil client.
func NewEtcd(cli *clientv3.Client, opts ...Option) (*Etcd, error) {
	if cli == nil {
		return nil, errors.New("lock: NewEtcd: nil client")
	}
	cfg := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Etcd{
		cli:    cli,
		cfg:    cfg,
		br:     &breaker.Breaker{Threshold: cfg.threshold, Cooldown: cfg.cooldown},
		ctx:    ctx,
		cancel: cancel,
		local:  make(map[string]*localLock),
	}, nil
}

// Lock takes the lock on key: it returns once this process holds key's etcd mutex, or
// fails when ctx ends first, when etcd does not answer, or at once while the breaker is
// open ([ErrUnavailable]). Callers of one Locker in one process queue for a key in
// process first, so etcd sees one waiter per process and key. The returned lock's Fence
// is the mutex key's etcd create revision: it grows with every acquisition of key.
func (l *Etcd) Lock(ctx context.Context, key string) (cached.Unlocker, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if l.br.Open(time.Now()) { // fail at once, not after waiting in the in-process queue
		l.stats.rejected.Add(1)
		return nil, ErrUnavailable
	}
	name := l.cfg.prefix + lockName(key)
	loc, err := l.enter(ctx, name)
	if err != nil {
		l.stats.timeouts.Add(1)
		return nil, err
	}
	h, err := l.acquire(ctx, name, loc)
	if err != nil {
		return nil, err // not a nil *held in a non-nil interface
	}
	return h, nil
}

// localLock queues the callers of one mutex in this process: a session's key under a
// mutex is one per session, so two holders in one process would share it.
type localLock struct {
	token chan struct{} // holds one value while a caller has the mutex
	refs  int           // callers holding or waiting; guarded by Etcd.mu
}

func (l *Etcd) enter(ctx context.Context, name string) (*localLock, error) {
	l.mu.Lock()
	loc := l.local[name]
	if loc == nil {
		loc = &localLock{token: make(chan struct{}, 1)}
		l.local[name] = loc
	}
	loc.refs++
	l.mu.Unlock()
	select {
	case loc.token <- struct{}{}:
		return loc, nil
	case <-ctx.Done():
		l.mu.Lock()
		l.drop(name, loc)
		l.mu.Unlock()
		return nil, ctx.Err()
	}
}

func (l *Etcd) leave(name string, loc *localLock) {
	<-loc.token
	l.mu.Lock()
	l.drop(name, loc)
	l.mu.Unlock()
}

// drop forgets one caller of loc. l.mu must be held.
func (l *Etcd) drop(name string, loc *localLock) {
	if loc.refs--; loc.refs == 0 {
		delete(l.local, name)
	}
}

// session returns the live session, creating one when there is none or the last one was
// lost (its lease expired, or etcd forgot it). Creating one is bounded by ctx.
func (l *Etcd) session(ctx context.Context) (*concurrency.Session, error) {
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return nil, ErrClosed
		}
		if s := l.sess; s != nil {
			select {
			case <-s.Done(): // lost: its holders find out at Unlock
				l.sess = nil
			default:
				l.mu.Unlock()
				return s, nil
			}
		}
		if ch := l.making; ch != nil {
			l.mu.Unlock()
			select {
			case <-ch:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		ch := make(chan struct{})
		l.making = ch
		l.mu.Unlock()

		s, err := l.newSession(ctx)
		l.mu.Lock()
		l.making = nil
		closed := l.closed
		if err == nil && !closed {
			l.sess = s
			l.stats.sessions.Add(1)
		}
		l.mu.Unlock()
		if err == nil && closed {
			l.revoke(s) // Close did not see it: do not leave its lease behind
			s, err = nil, ErrClosed
		}
		close(ch) // after the revoke: Close waits for it
		return s, err
	}
}

// newSession grants a lease under ctx (concurrency.NewSession would grant it under the
// session's own context, unbounded by the caller's) and keeps it alive until Close.
func (l *Etcd) newSession(ctx context.Context) (*concurrency.Session, error) {
	secs := int64(l.cfg.ttl / time.Second)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(l.ctx, cancel) // Close does not wait for a slow grant
	defer stop()
	lease, err := l.cli.Grant(ctx, secs)
	if err != nil {
		return nil, err
	}
	return concurrency.NewSession(l.cli, concurrency.WithLease(lease.ID),
		concurrency.WithTTL(int(secs)), concurrency.WithContext(l.ctx))
}

// abandon stops keeping s alive, so that etcd deletes its keys when its lease runs out:
// the way to free a key this process could not delete (etcd did not answer). Its other
// locks are then lost, and reported so at their Unlock.
func (l *Etcd) abandon(s *concurrency.Session) {
	l.mu.Lock()
	if l.sess == s {
		l.sess = nil
	}
	l.mu.Unlock()
	s.Orphan()
}

// Close revokes the session's lease, which frees every lock it holds, and stops keeping
// it alive. Lock fails with [ErrClosed] afterwards. Close is idempotent; its error is the
// revoke's (the lease then expires within the TTL instead).
func (l *Etcd) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	s := l.sess
	l.sess = nil
	making := l.making
	l.mu.Unlock()
	l.cancel()
	if making != nil {
		<-making // its creator sees closed and orphans what it made
	}
	l.wg.Wait()
	if s == nil {
		return nil
	}
	if err := l.revoke(s); err != nil {
		return fmt.Errorf("lock: close: revoking the session lease: %w", err)
	}
	return nil
}

// revoke stops keeping s alive and revokes its lease, freeing its keys at once.
func (l *Etcd) revoke(s *concurrency.Session) error {
	s.Orphan()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := l.cli.Revoke(ctx, s.Lease())
	return err
}

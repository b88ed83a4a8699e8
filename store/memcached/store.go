package memcached

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/bradfitz/gomemcache/memcache"
	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/internal/breaker"
)

// ErrUnavailable is wrapped by the errors of calls refused at once because the server's
// breaker is open: the server failed repeatedly and is being given time to recover.
var ErrUnavailable = errors.New("memcached: server unavailable")

// Store is a [cached.Store] on memcached servers, through gomemcache. It also implements
// [cached.MultiGetter]. A Store is safe for concurrent use.
//
// Values are framed in a small versioned envelope (see [Item] fields in package cached):
// a value of another format is a miss, deleted and counted, never an error. Keys of any
// form are mapped to keys memcached accepts. Writes compare fencing tokens with
// compare-and-swap, so a write from a lock holder that lost its lock never overwrites a
// newer holder's value; a write costs two round trips (read the current fence, then
// compare-and-swap).
type Store struct {
	c        *memcache.Client
	cfg      config
	pick     func(key string) (net.Addr, error) // nil: one breaker for all servers
	breakers map[string]*breaker.Breaker        // by server address
	single   *breaker.Breaker
	stats    counters
	leases   leases
}

// New returns a Store over the memcached servers at addrs ("host:port"), placed on a
// libmemcached-compatible ketama ring ([NewKetama]) so that Go and PHP/C clients agree on
// every key's server, and adding a server moves about 1/n of the keys. It panics if addrs
// is empty or holds an invalid address (a programmer error at construction).
func New(addrs []string, opts ...Option) *Store {
	k, err := NewKetama(addrs...)
	if err != nil {
		panic(fmt.Sprintf("memcached: New: %v", err))
	}
	s := newStore(memcache.NewFromSelector(k), opts)
	s.pick = k.PickServer
	s.breakers = make(map[string]*breaker.Breaker)
	k.Each(func(a net.Addr) error {
		s.breakers[a.String()] = s.newBreaker()
		return nil
	})
	return s
}

// NewFromClient returns a Store on an existing gomemcache client, whose server selection
// it keeps. Timeout and MaxIdleConns given as options are set on the client, as are their
// defaults when the client's are zero. One breaker covers all the client's servers.
func NewFromClient(c *memcache.Client, opts ...Option) *Store {
	return newStore(c, opts)
}

func newStore(c *memcache.Client, opts []Option) *Store {
	cfg := defaults()
	explicit := defaults()
	for _, o := range opts {
		o(&cfg)
	}
	if c.Timeout == 0 || cfg.timeout != explicit.timeout {
		c.Timeout = cfg.timeout
	}
	if c.MaxIdleConns == 0 || cfg.maxIdle != explicit.maxIdle {
		c.MaxIdleConns = cfg.maxIdle
	}
	s := &Store{c: c, cfg: cfg}
	s.single = s.newBreaker()
	return s
}

func (s *Store) newBreaker() *breaker.Breaker {
	return &breaker.Breaker{Threshold: s.cfg.threshold, Cooldown: s.cfg.cooldown}
}

// breakerFor returns the breaker of the server that holds mk.
func (s *Store) breakerFor(mk string) *breaker.Breaker {
	if s.pick == nil {
		return s.single
	}
	a, err := s.pick(mk)
	if err != nil {
		return s.single
	}
	if b := s.breakers[a.String()]; b != nil {
		return b
	}
	return s.single
}

// call runs op against the server of mk unless its breaker is open, and records how the
// server answered. Answers that are not failures (a miss, a refused add or CAS) keep the
// breaker closed.
func (s *Store) call(ctx context.Context, mk string, op func() error) error {
	return s.callOn(ctx, s.breakerFor(mk), op)
}

// callOn is call for the server whose breaker is b.
func (s *Store) callOn(ctx context.Context, b *breaker.Breaker, op func() error) (err error) {
	if err := ctx.Err(); err != nil {
		return err // gomemcache takes no context: at least do not start a call that is already late
	}
	if !b.Allow(time.Now()) {
		s.stats.rejected.Add(1)
		return ErrUnavailable
	}
	answered := false
	defer func() {
		if !answered { // op panicked: count a failure, so a half-open probe is never left out
			s.fail(b)
		}
	}()
	err = op()
	answered = true
	if err == nil || isAnswer(err) {
		b.Success()
		return err
	}
	s.fail(b)
	return err
}

func (s *Store) fail(b *breaker.Breaker) {
	s.stats.errors.Add(1)
	if b.Failure(time.Now()) {
		s.stats.trips.Add(1)
	}
}

// get reads mk from its server, through the server's breaker.
func (s *Store) get(ctx context.Context, mk string) (mi *memcache.Item, err error) {
	err = s.call(ctx, mk, func() (err error) {
		mi, err = s.c.Get(mk)
		return err
	})
	return mi, err
}

// isAnswer reports whether err is the server's answer rather than its absence.
func isAnswer(err error) bool {
	return errors.Is(err, memcache.ErrCacheMiss) || errors.Is(err, memcache.ErrNotStored) ||
		errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrMalformedKey) ||
		tooLarge(err)
}

// tooLarge reports whether err is the server refusing a value over its item size (-I),
// which also counts the key and the item's header.
func tooLarge(err error) bool {
	return err != nil && strings.Contains(err.Error(), "object too large")
}

// Get implements [cached.Store].
func (s *Store) Get(ctx context.Context, key string) (cached.Item, bool, error) {
	s.stats.gets.Add(1)
	mk := safeKey(key)
	var mi *memcache.Item
	var err error
	if s.cfg.leaseTTL > 0 {
		mi, err = s.getLeased(ctx, mk)
	} else {
		mi, err = s.get(ctx, mk)
	}
	switch {
	case errors.Is(err, memcache.ErrCacheMiss):
		return cached.Item{}, false, nil
	case err != nil:
		return cached.Item{}, false, fmt.Errorf("memcached: get %q: %w", key, err)
	}
	it, lease, err := parse(mi.Value)
	if err != nil {
		s.corrupt(ctx, mk)
		return cached.Item{}, false, nil
	}
	if lease != 0 {
		return cached.Item{}, false, nil // another Store's lease (this one has leases off)
	}
	s.stats.hits.Add(1)
	return it, true, nil
}

// corrupt deletes a value this store cannot read, so that it does not stay until it
// expires.
func (s *Store) corrupt(ctx context.Context, mk string) {
	s.stats.corrupt.Add(1)
	s.call(ctx, mk, func() error { return s.c.Delete(mk) })
}

// GetMulti implements [cached.MultiGetter], with one multi-get per server, each through
// that server's breaker. Keys on a server that is down or whose breaker is open are left
// out, as misses (the engine then loads them); GetMulti fails only when no server answered.
func (s *Store) GetMulti(ctx context.Context, keys []string) (map[string]cached.Item, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.stats.gets.Add(uint64(len(keys)))
	orig := make(map[string]string, len(keys))
	groups := make(map[*breaker.Breaker][]string)
	for _, k := range keys {
		mk := safeKey(k)
		if _, dup := orig[mk]; !dup {
			b := s.breakerFor(mk)
			groups[b] = append(groups[b], mk)
		}
		orig[mk] = k
	}
	var mu sync.Mutex // protects out, answered, lastErr, corrupt
	out := make(map[string]cached.Item, len(orig))
	answered := 0
	var lastErr error
	var corrupt []string
	var wg sync.WaitGroup
	for b, mks := range groups {
		wg.Go(func() {
			var items map[string]*memcache.Item
			err := s.callOn(ctx, b, func() (err error) {
				items, err = s.c.GetMulti(mks)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				lastErr = err
				return
			}
			answered++
			for mk, mi := range items {
				it, lease, derr := parse(mi.Value)
				if derr != nil {
					corrupt = append(corrupt, mk)
					continue
				}
				if lease != 0 {
					continue // another reader is loading it: a miss (GetMulti places no leases)
				}
				s.stats.hits.Add(1)
				out[orig[mk]] = it
			}
		})
	}
	wg.Wait()
	for _, mk := range corrupt {
		s.corrupt(ctx, mk)
	}
	if answered == 0 && lastErr != nil {
		return nil, fmt.Errorf("memcached: get multi: %w", lastErr)
	}
	return out, nil
}

// Set implements [cached.Store]: it writes it for ttl (rounded up to whole seconds),
// unless the value is over MaxItemSize or a newer lock holder's fence holds the key.
func (s *Store) Set(ctx context.Context, key string, it cached.Item, ttl time.Duration) error {
	mk := safeKey(key)
	val := encode(it)
	if len(val)+len(mk)+itemOverhead > s.cfg.maxItemSize {
		s.stats.tooLarge.Add(1)
		return nil
	}
	exp := expiration(ttl, time.Now())
	if cached.IsWriteBack(ctx) {
		if ok, err := s.writeBack(ctx, mk, val, exp); ok {
			if err != nil {
				return fmt.Errorf("memcached: set %q: %w", key, err)
			}
			return nil
		}
	}
	for range 4 {
		cur, err := s.get(ctx, mk)
		switch {
		case errors.Is(err, memcache.ErrCacheMiss):
			err = s.call(ctx, mk, func() error { return s.c.Add(&memcache.Item{Key: mk, Value: val, Expiration: exp}) })
			if errors.Is(err, memcache.ErrNotStored) {
				continue // another writer added it first: compare with theirs
			}
			return s.wrote(key, err)
		case err != nil:
			return fmt.Errorf("memcached: set %q: %w", key, err)
		}
		if old, _, derr := parse(cur.Value); derr == nil { // over another reader's lease: a Put wins
			if it.Fence != 0 && it.Fence < old.Fence {
				s.stats.fenceDropped.Add(1)
				return nil // a holder that lost its lock: the newer value stays
			}
			if it.Fence < old.Fence { // an unfenced write keeps the fence
				it.Fence = old.Fence
				val = encode(it)
			}
		}
		cur.Value, cur.Expiration = val, exp
		err = s.call(ctx, mk, func() error { return s.c.CompareAndSwap(cur) })
		if errors.Is(err, memcache.ErrCASConflict) || errors.Is(err, memcache.ErrCacheMiss) {
			continue // changed or deleted meanwhile: read again
		}
		return s.wrote(key, err)
	}
	// Lost the compare-and-swap race four times: other writers wrote the key after this
	// write read it, so this write is ordered before theirs, and theirs stand. Counted.
	s.stats.contended.Add(1)
	return nil
}

// itemOverhead is what memcached counts toward its item size besides the key and the value:
// the item header and the suffix, rounded up.
const itemOverhead = 64

func (s *Store) wrote(key string, err error) error {
	switch {
	case tooLarge(err):
		s.stats.tooLarge.Add(1)
		return nil
	case err != nil:
		return fmt.Errorf("memcached: set %q: %w", key, err)
	}
	s.stats.sets.Add(1)
	return nil
}

// Delete implements [cached.Store].
func (s *Store) Delete(ctx context.Context, key string) error {
	s.stats.deletes.Add(1)
	mk := safeKey(key)
	err := s.call(ctx, mk, func() error { return s.c.Delete(mk) })
	if err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return fmt.Errorf("memcached: delete %q: %w", key, err)
	}
	return nil
}

// Close closes the idle connections. The Store must not be used afterwards.
func (s *Store) Close() error { return s.c.Close() }

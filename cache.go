package cached

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"

	"github.com/maypok86/otter/v2"
)

// Cache is the engine that the functions wrapped with it share: default options, the
// plug-ins, the counters and the goroutines that refresh in the background. Build one with
// [New] and [Cache.Close] it when done.
//
// A Cache is safe for concurrent use.
type Cache struct {
	cfg    config
	id     string // this instance's name on the Bus
	clk    *otter.CoarseClock
	ctx    context.Context // ended by Close: detached loads and refreshes stop
	cancel context.CancelFunc
	closed atomic.Bool
	unsub  func()

	mu      sync.Mutex // protects the fields below, and wg.Add against Close
	wg      sync.WaitGroup
	funcs   map[string][]funcHandle
	stats   map[string]*counters
	closers []func()
}

// funcHandle is what the Cache knows of its functions, whatever their types.
type funcHandle interface {
	// dropKey drops the in-process entry stored under the full key, or the whole
	// in-process tier when the key's argument cannot be read back.
	dropKey(key string)
	// dropAll drops the whole in-process tier.
	dropAll()
}

// New returns a Cache. With no options it keeps values in process memory only (at most
// 10,000 per function), coalesces concurrent loads of a key into one, and stores values
// for 5 minutes scaled by a random factor in [0.9, 1.1]; see the options for the rest.
// Options given here are the defaults of every function of the Cache.
func New(opts ...Option) *Cache {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cache{
		cfg:    cfg,
		id:     newID(),
		clk:    newClock(),
		ctx:    ctx,
		cancel: cancel,
		funcs:  make(map[string][]funcHandle),
		stats:  make(map[string]*counters),
	}
	if cfg.bus != nil {
		c.unsub = cfg.bus.Subscribe(c.deliver)
	}
	return c
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ID returns the name this instance publishes under on the [Bus].
func (c *Cache) ID() string { return c.id }

// Policy returns the Policy given to New (WithPolicy), nil when none. Integrations that
// consult it themselves with arguments the engine does not see use it: package
// middleware asks it about each *http.Request before it builds the cache key.
func (c *Cache) Policy() Policy { return c.cfg.policy }

// Bus returns the Bus given to New (WithBus), nil when none. Integrations publish their
// own topics on it: package middleware sends its purges to every instance.
func (c *Cache) Bus() Bus { return c.cfg.bus }

// Close stops the Cache's goroutines: it cancels running background refreshes and the
// contexts of detached loads, waits for them to return, unsubscribes from the Bus and
// stops the in-process tiers' clean-up. Loads running on a caller's goroutine (whose
// context cannot be cancelled) see their context cancelled but are not waited for.
// Afterwards in-process hits are still served, and misses call the loader directly,
// without storing. Close is idempotent and returns nil. A loader must not call Close: it
// would wait for itself.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed.Swap(true) {
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	c.cancel()
	if c.unsub != nil {
		c.unsub()
	}
	c.wg.Wait()
	c.mu.Lock()
	closers := c.closers
	c.closers = nil
	c.mu.Unlock()
	for _, fn := range closers {
		fn()
	}
	c.clk.Stop()
	return nil
}

// Stats returns a snapshot of the counters of every function of the Cache. Functions
// that share a name share their counters.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Funcs: make(map[string]FuncStats, len(c.stats))}
	for name, cs := range c.stats {
		s.Funcs[name] = cs.snapshot()
	}
	return s
}

// register adds a function and returns its name's counters.
func (c *Cache) register(name string, h funcHandle, closer func()) *counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.funcs[name] = append(c.funcs[name], h)
	if closer != nil {
		c.closers = append(c.closers, closer)
	}
	cs := c.stats[name]
	if cs == nil {
		cs = new(counters)
		c.stats[name] = cs
	}
	return cs
}

// spawn runs fn on a goroutine that Close waits for. It returns false, and does not run
// fn, once the Cache is closed.
func (c *Cache) spawn(fn func()) bool {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return false
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// deliver handles a message from the Bus.
func (c *Cache) deliver(m Message) {
	if m.Source == c.id {
		return
	}
	switch m.Topic {
	case TopicInvalidate:
		for _, h := range c.handles(m.Func) {
			h.dropKey(m.Key)
		}
	case TopicResync:
		c.mu.Lock()
		for _, cs := range c.stats {
			cs.inc(BusError)
		}
		c.mu.Unlock()
		for _, hs := range c.allHandles() {
			hs.dropAll()
		}
	}
}

func (c *Cache) handles(name string) []funcHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]funcHandle(nil), c.funcs[name]...)
}

func (c *Cache) allHandles() []funcHandle {
	c.mu.Lock()
	defer c.mu.Unlock()
	var hs []funcHandle
	for _, fs := range c.funcs {
		hs = append(hs, fs...)
	}
	return hs
}

// publish tells the other instances that key changed.
func (c *Cache) publish(ctx context.Context, name, key string) error {
	if c.cfg.bus == nil {
		return nil
	}
	return c.cfg.bus.Publish(ctx, Message{Topic: TopicInvalidate, Source: c.id, Func: name, Key: key})
}

package bloom

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// Guard is a [cached.Guard] on a Bloom filter: MayExist false means the key certainly was
// never added, so the call is answered "not found" without touching the store, the lock
// or the loader. It is safe for concurrent use: MayExist never locks, and Add never makes
// it wait.
type Guard struct {
	cfg  config
	id   string // this instance's name on the Bus
	gen  atomic.Pointer[filter]
	open atomic.Bool // accepting every key: after a resync, until a rebuild

	addMu     sync.RWMutex        // Adds and Fills hold it shared; a rebuild's swap, exclusively
	pendMu    sync.Mutex          // protects pending
	pending   map[string]struct{} // while a rebuild runs, keys its Source may lack; else nil
	rebuildMu sync.Mutex          // one rebuild at a time
	queued    atomic.Bool         // a rebuild a resync queued waits for rebuildMu
	warm      atomic.Bool         // filled, rebuilt or loaded from a snapshot once
	coldMu    sync.Mutex          // protects cold and coldOver
	cold      []string            // keys added before the guard was warm (see logCold)
	coldOver  bool                // more than maxCold: cold was dropped

	outMu   sync.Mutex // protects outbox
	outbox  []string   // added keys not yet sent on the Bus
	outDone bool       // Close sent the last batch: queue no more

	ctx      context.Context // the background goroutines' life: cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	bgMu     sync.Mutex // protects stopping, and orders wg.Add before Close's Wait
	stopping bool
	unsub    func()
	closed   atomic.Bool
	warned   atomic.Bool // overfill was logged

	stats counters
}

var _ cached.GuardWriter = (*Guard)(nil)

// New returns a Guard sized for expectedItems keys at a false-positive rate of fpRate: a
// 1% rate costs about 1.2 bytes per key. It panics when expectedItems is 0 or fpRate is not
// in (0, 1). With [RebuildFrom] a period, or [WithBus], it starts goroutines that Close
// stops.
func New(expectedItems uint, fpRate float64, opts ...Option) *Guard {
	if expectedItems == 0 || !(fpRate > 0 && fpRate < 1) || math.IsNaN(fpRate) {
		panic(fmt.Sprintf("bloom: New(%d, %v): want expectedItems > 0 and 0 < fpRate < 1", expectedItems, fpRate))
	}
	cfg := config{name: DefaultName, flush: DefaultFlush, logger: slog.Default(), timeout: DefaultTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	var id [8]byte
	rand.Read(id[:])
	ctx, cancel := context.WithCancel(context.Background())
	g := &Guard{cfg: cfg, id: hex.EncodeToString(id[:]), ctx: ctx, cancel: cancel}
	g.gen.Store(newFilter(expectedItems, fpRate))
	if cfg.bus != nil {
		g.unsub = cfg.bus.Subscribe(g.receive)
		g.goBackground(g.flushLoop)
	}
	if cfg.source != nil && cfg.every > 0 {
		g.goBackground(g.rebuildLoop)
	}
	return g
}

// MayExist reports whether key may have been added. False is certain; true is wrong for
// about fpRate of the keys never added.
func (g *Guard) MayExist(key string) bool {
	if g.open.Load() {
		return true
	}
	return g.gen.Load().test(key)
}

// Add records that key exists (cached calls it after a successful load). A key new to the
// filter is sent to the other instances on the Bus, if any; a key it reports present
// already is not (a load follows MayExist saying yes, so this is the common case, and
// sending every loaded key would cost the Bus a message per load). See [Guard.Written].
func (g *Guard) Add(key string) {
	if g.addLocal(key, false) {
		g.queue(key)
	}
}

// Written records that key exists because it was just written (cached calls it after
// Put): unlike Add, it sends key on the Bus even when this filter says it is present
// already, since that may be a false positive here and not on the other instances.
func (g *Guard) Written(key string) {
	g.addLocal(key, true)
	g.queue(key)
}

func (g *Guard) queue(key string) {
	if g.cfg.bus == nil {
		return
	}
	g.outMu.Lock()
	defer g.outMu.Unlock()
	if !g.outDone { // after Close's last flush, a key would wait for a flush that never comes
		g.outbox = append(g.outbox, key)
	}
}

// addLocal adds key to this instance's filter and reports whether it was new. While a
// rebuild runs, a key new to the filter, or written (a record just created), is kept for
// the filter being built too: its Source may have been read before the record existed. A
// key already present came from a load, of a record the Source lists.
func (g *Guard) addLocal(key string, written bool) bool {
	g.addMu.RLock()
	defer g.addMu.RUnlock()
	added := g.gen.Load().add(key)
	g.logCold(key)
	if added || written {
		g.pendMu.Lock()
		if g.pending != nil {
			g.pending[key] = struct{}{}
		}
		g.pendMu.Unlock()
	}
	if added {
		g.checkOverfill()
	}
	return added
}

// Fill adds every key of keys, for warming the guard up before it serves (a SELECT id
// over the table). Keys are added in batches, so concurrent Adds wait at most for one
// batch and MayExist never waits. It returns ctx's error if ctx ends first (the keys
// added so far stay). Filled keys are not sent on the Bus: every instance fills its own.
func (g *Guard) Fill(ctx context.Context, keys iter.Seq[string]) error {
	_, err := inBatches(ctx, keys, g.addBatch)
	g.warmed()
	g.checkOverfill()
	return err
}

// inBatches hands keys to add in batches of fillBatch, checking ctx between batches, and
// returns how many keys it read.
func inBatches(ctx context.Context, keys iter.Seq[string], add func([]string)) (n uint, err error) {
	batch := make([]string, 0, fillBatch)
	for k := range keys {
		batch = append(batch, k)
		n++
		if len(batch) == fillBatch {
			add(batch)
			batch = batch[:0]
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	add(batch)
	return n, ctx.Err()
}

const fillBatch = 1 << 16

// logCold keeps the keys added before the guard was first warmed (by Fill, a rebuild or a
// snapshot): a snapshot of another shape (the fleet resized its filter) can then still be
// adopted, with these keys added to it. Past maxCold keys it gives up. Adds hold addMu
// shared; the adoption holds it exclusively.
func (g *Guard) logCold(keys ...string) {
	if g.warm.Load() {
		return
	}
	g.coldMu.Lock()
	defer g.coldMu.Unlock()
	if g.coldOver || g.warm.Load() {
		return
	}
	if len(g.cold)+len(keys) > maxCold {
		g.cold, g.coldOver = nil, true
		return
	}
	g.cold = append(g.cold, keys...)
}

// warmed marks the guard warm: the cold log is no longer needed.
func (g *Guard) warmed() {
	g.warm.Store(true)
	g.coldMu.Lock()
	g.cold = nil
	g.coldMu.Unlock()
}

const maxCold = 1 << 16

// addBatch adds keys to this instance's filter (and to the one a rebuild is building).
func (g *Guard) addBatch(keys []string) {
	g.addMu.RLock()
	defer g.addMu.RUnlock()
	g.gen.Load().addBatch(keys)
	g.logCold(keys...)
	g.pendMu.Lock()
	if g.pending != nil {
		for _, k := range keys {
			g.pending[k] = struct{}{}
		}
	}
	g.pendMu.Unlock()
}

// checkOverfill logs, once per generation, that the filter holds more keys than it was
// sized for: its false-positive rate is above target until a rebuild sizes it up.
func (g *Guard) checkOverfill() {
	f := g.gen.Load()
	// The count of new Adds, not filter.keys: this runs on Add, and keys counts bits.
	if f.added.Load() > uint64(f.expected) && !g.warned.Swap(true) {
		g.cfg.logger.Warn("bloom: guard overfilled: false positives above target until a rebuild",
			"guard", g.cfg.name, "expected", f.expected, "added", f.added.Load())
	}
}

// goBackground runs fn on a goroutine Close waits for, recovering a panic; after Close
// it does nothing.
func (g *Guard) goBackground(fn func()) {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.stopping {
		return
	}
	g.wg.Add(1) // under bgMu: never after Close's Wait began
	go func() {
		defer g.wg.Done()
		defer func() {
			if p := recover(); p != nil {
				g.stats.panics.Add(1)
				g.cfg.logger.Error("bloom: background goroutine panicked", "guard", g.cfg.name, "panic", p)
			}
		}()
		fn()
	}()
}

// Close stops the guard's goroutines (periodic rebuild, Bus flush) after sending the keys
// still waiting for the Bus (every key queued before Close returns is sent), and
// unsubscribes from the Bus. The guard keeps answering MayExist and taking Adds, which
// are then local only. Close the guard before the Bus. Close is idempotent and returns nil.
func (g *Guard) Close() error {
	if g.closed.Swap(true) {
		return nil
	}
	g.bgMu.Lock()
	g.stopping = true
	g.bgMu.Unlock()
	if g.unsub != nil {
		g.unsub()
	}
	g.cancel()
	g.wg.Wait() // the flush loop's last flush
	if g.cfg.bus != nil {
		g.outMu.Lock()
		g.outDone = true
		g.outMu.Unlock()
		g.flush() // keys queued during that flush: after this, Adds are local only
	}
	return nil
}

// sinceStart is a helper for logging durations.
func sinceStart(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

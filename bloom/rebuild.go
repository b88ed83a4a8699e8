package bloom

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrNoSource is returned by Rebuild on a guard built without [RebuildFrom].
var ErrNoSource = errors.New("bloom: rebuild: no Source (see RebuildFrom)")

// Rebuild builds a fresh filter from the Source and swaps it in atomically: keys deleted
// since are forgotten, and a filter that overfilled is replaced by one sized for twice
// the keys found. Keys added while it runs are added to the new filter too, so none is
// lost in the swap. MayExist never waits for it; Adds wait only for the swap. After a
// rebuild the guard stops accepting every key if a resync had made it (see [WithBus]),
// unless another resync came in while it ran (the rebuild that one starts closes it), and
// saves a snapshot to the Store, if any.
func (g *Guard) Rebuild(ctx context.Context) error {
	if g.cfg.source == nil {
		return ErrNoSource
	}
	g.rebuildMu.Lock()
	defer g.rebuildMu.Unlock()
	return g.rebuildLocked(ctx)
}

// rebuildQueued is the rebuild a resync queued.
func (g *Guard) rebuildQueued(ctx context.Context) error {
	g.rebuildMu.Lock()
	defer g.rebuildMu.Unlock()
	g.queued.Store(false)
	return g.rebuildLocked(ctx)
}

func (g *Guard) rebuildLocked(ctx context.Context) error {
	start := time.Now()
	err := g.rebuild(ctx)
	if err != nil {
		g.stats.rebuildErrors.Add(1)
		g.cfg.logger.Warn("bloom: rebuild failed; the current filter stays", "guard", g.cfg.name, "err", err)
		return err
	}
	g.stats.rebuilds.Add(1)
	f := g.gen.Load()
	g.cfg.logger.Debug("bloom: rebuilt", "guard", g.cfg.name, "keys", f.added.Load(),
		"expected", f.expected, "took", sinceStart(start))
	if g.cfg.store != nil {
		if err := g.SaveSnapshot(ctx); err != nil {
			g.cfg.logger.Warn("bloom: saving a snapshot failed", "guard", g.cfg.name, "err", err)
		}
	}
	return nil
}

func (g *Guard) rebuild(ctx context.Context) error {
	g.pendMu.Lock()
	g.pending = make(map[string]struct{})
	g.pendMu.Unlock()
	defer func() {
		g.pendMu.Lock()
		g.pending = nil
		g.pendMu.Unlock()
	}()
	resyncs := g.stats.resyncs.Load() // a resync after this may report keys the Source read misses
	cur := g.gen.Load()
	expected := cur.expected
	if n := cur.keys(); n > uint64(expected) { // overfilled: size up
		expected = uint(n) * overfillGrowth
	}
	next, found, err := g.build(ctx, expected, cur.fpRate)
	if err == nil && found > expected { // the Source itself outgrew the size: once more, bigger
		next, _, err = g.build(ctx, found*overfillGrowth, cur.fpRate)
	}
	if err != nil {
		return err
	}
	g.addMu.Lock() // no Add in flight: every Add so far is in cur and in pending
	g.pendMu.Lock()
	keys := make([]string, 0, len(g.pending))
	for k := range g.pending {
		keys = append(keys, k)
	}
	next.addBatch(keys)
	g.gen.Store(next)
	g.pending = nil
	g.pendMu.Unlock()
	g.addMu.Unlock()
	g.warned.Store(false)
	g.warmed()
	if g.stats.resyncs.Load() == resyncs { // else stay open for the rebuild that resync started
		g.open.Store(false)
		if g.stats.resyncs.Load() != resyncs { // one came in between (it counts, then opens)
			g.open.Store(true)
		}
	}
	return nil
}

// build returns a filter of the Source's keys, sized for expected, and how many keys the
// Source gave.
func (g *Guard) build(ctx context.Context, expected uint, fpRate float64) (*filter, uint, error) {
	keys, err := g.cfg.source(ctx)
	if err != nil {
		return nil, 0, fmt.Errorf("bloom: rebuild: source: %w", err)
	}
	f := newFilter(expected, fpRate)
	found, err := inBatches(ctx, keys, f.addBatch)
	if err != nil {
		return nil, 0, fmt.Errorf("bloom: rebuild: %w", err)
	}
	return f, found, nil
}

// rebuildLoop rebuilds every period until Close, retrying a failed rebuild sooner.
func (g *Guard) rebuildLoop() {
	t := time.NewTimer(g.cfg.every)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(g.ctx, g.cfg.timeout)
		err := g.Rebuild(ctx)
		cancel()
		next := g.cfg.every
		if err != nil {
			next = max(g.cfg.every/rebuildRetryDivisor, time.Second)
		}
		t.Reset(next)
	}
}

package bloom

import (
	"context"
	"encoding/binary"
	"errors"
	"time"

	"github.com/cachedgo/cached"
)

// TopicAdd is the Bus topic of a guard's added keys. Message.Func carries the guard's
// [Name] and Message.Data the keys, each a uvarint length and its bytes.
const TopicAdd = "bloom/add"

// receive handles a Bus message.
func (g *Guard) receive(m cached.Message) {
	switch {
	case m.Topic == cached.TopicResync:
		g.resync()
	case m.Topic == TopicAdd && m.Func == g.cfg.name && m.Source != g.id:
		keys, err := decodeKeys(m.Data)
		if err != nil {
			g.cfg.logger.Warn("bloom: malformed key batch from the Bus; resyncing", "guard", g.cfg.name, "err", err)
			g.resync()
			return
		}
		g.addBatch(keys)
		g.checkOverfill()
		g.stats.received.Add(uint64(len(keys)))
	}
}

// resync handles lost Bus messages: keys another instance added may be missing here, and a
// Bloom filter that lacks a key says "certainly not" for it. The guard accepts every key
// until a rebuild (started now when there is a Source) has made it whole again.
func (g *Guard) resync() {
	g.stats.resyncs.Add(1)
	g.open.Store(true)
	g.cfg.logger.Warn("bloom: Bus lost messages: guard open until rebuilt", "guard", g.cfg.name,
		"rebuilding", g.cfg.source != nil)
	// One rebuild waits behind a running one, however many resyncs come in meanwhile: the
	// flag is cleared when the queued rebuild starts (before it reads the Source), so a
	// resync after that queues another.
	if g.cfg.source != nil && !g.closed.Load() && g.queued.CompareAndSwap(false, true) {
		g.goBackground(func() {
			ctx, cancel := context.WithTimeout(g.ctx, g.cfg.timeout)
			defer cancel()
			g.rebuildQueued(ctx)
		})
	}
}

// flushLoop sends the added keys on the Bus every flush period, and once more at Close.
func (g *Guard) flushLoop() {
	t := time.NewTicker(g.cfg.flush)
	defer t.Stop()
	for {
		select {
		case <-g.ctx.Done():
			g.flush()
			return
		case <-t.C:
			g.flush()
		}
	}
}

// maxBatch bounds the keys of one message (etcd's default request limit is 1.5 MiB).
const maxBatch = 512 << 10

func (g *Guard) flush() {
	g.outMu.Lock()
	keys := g.outbox
	g.outbox = nil
	g.outMu.Unlock()
	for len(keys) > 0 {
		data, n := encodeKeys(keys, maxBatch)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := g.cfg.bus.Publish(ctx, cached.Message{Topic: TopicAdd, Source: g.id, Func: g.cfg.name, Data: data})
		cancel()
		if err != nil {
			// The Bus makes the other instances resync for what it lost: their guards
			// open rather than wrongly say "not found". Drop the rest too: a Bus that
			// is down would make each batch wait for its timeout (and Close with them).
			g.stats.sendErrors.Add(1)
			g.cfg.logger.Warn("bloom: sending added keys failed", "guard", g.cfg.name, "keys", len(keys), "err", err)
			return
		}
		g.stats.sent.Add(uint64(n))
		keys = keys[n:]
	}
}

// encodeKeys encodes a prefix of keys of at most limit bytes (at least one key) and says
// how many it took.
func encodeKeys(keys []string, limit int) ([]byte, int) {
	var out []byte
	n := 0
	for _, k := range keys {
		if n > 0 && len(out)+binary.MaxVarintLen64+len(k) > limit {
			break
		}
		out = binary.AppendUvarint(out, uint64(len(k)))
		out = append(out, k...)
		n++
	}
	return out, n
}

var errMalformed = errors.New("bloom: malformed key batch")

func decodeKeys(data []byte) ([]string, error) {
	var keys []string
	for len(data) > 0 {
		n, w := binary.Uvarint(data)
		if w <= 0 || n > uint64(len(data)-w) {
			return nil, errMalformed
		}
		keys = append(keys, string(data[w:w+int(n)]))
		data = data[w+int(n):]
	}
	return keys, nil
}

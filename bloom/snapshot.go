package bloom

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/cachedgo/cached"
)

// Errors of [Guard.SaveSnapshot] and [Guard.LoadSnapshot].
var (
	// ErrNoStore is returned by SaveSnapshot and LoadSnapshot on a guard built without
	// [WithStore].
	ErrNoStore = errors.New("bloom: snapshot: no Store (see WithStore)")
	// ErrNoSnapshot is returned by LoadSnapshot when the Store holds no snapshot of the
	// guard's [Name] (none was saved, or it expired): the caller fills the guard instead.
	ErrNoSnapshot = errors.New("bloom: no snapshot in the Store")
	// ErrBadSnapshot is wrapped by LoadSnapshot's error when the snapshot cannot be read:
	// corrupt, foreign, of another format version, missing a chunk, or mixing the chunks
	// of two saves that a retry did not resolve. The live filter is left unchanged.
	ErrBadSnapshot = errors.New("bloom: unreadable snapshot")
	// ErrGeometry is wrapped by LoadSnapshot's error when the snapshot's filter is shaped
	// differently from the live one (another size or rate, or a rebuild sized one of them
	// up) and the live one already holds keys, so the two cannot be merged.
	ErrGeometry = errors.New("bloom: snapshot and live filter differ in shape")
	// ErrOpen is returned by SaveSnapshot while the guard is open (see [WithBus]): its
	// filter may lack keys the Bus lost, and a new instance that loaded it would answer
	// "not found" for them. A rebuild closes the guard and saves a snapshot.
	ErrOpen = errors.New("bloom: save snapshot: guard is open until rebuilt")
)

// DefaultSnapshotTTL is how long a snapshot stays in the Store unless [SnapshotTTL] says
// otherwise.
const DefaultSnapshotTTL = 24 * time.Hour

// SnapshotTTL sets how long a saved snapshot stays in the Store. Save one more often than
// that (every rebuild saves one). Default: [DefaultSnapshotTTL], 24 hours.
func SnapshotTTL(d time.Duration) Option {
	if d <= 0 {
		panic("bloom: SnapshotTTL must be positive")
	}
	return func(c *config) { c.snapTTL = d }
}

// A snapshot is stored as a manifest and chunks. The chunks, under
// "bloom:<name>:snapshot:<i>", hold the encoded filter (see encodeFilter) cut into pieces;
// each starts with the save's random id and its index:
//
//	0   16  snapshot id
//	16  4   chunk index, big endian
//	20  ... up to chunkData bytes of the encoded filter
//
// The manifest, under "bloom:<name>:snapshot", is written after every chunk:
//
//	0   4   magic "cbsm"
//	4   1   version 1
//	5   16  snapshot id
//	21  4   chunk count
//	25  8   encoded length
//	33  4   CRC-32 (Castagnoli) of the encoded filter
//	37  8   save time, unix nanoseconds
//
// Why chunks: a Store drops a value too large for it without error (memcached's default
// limit is 1 MiB with the envelope), and a filter for a few million keys is larger. Why an
// id in every chunk: two instances saving at once overwrite each other's chunks, and a
// reader must never stitch a filter out of two saves; the CRC would catch it too, but the
// id tells a concurrent save (worth a retry) from corruption.
const (
	chunkSize      = 256 << 10 // a chunk item's value, header included, at most
	idLen          = 16
	chunkHeaderLen = idLen + 4
	chunkData      = chunkSize - chunkHeaderLen
	manifestMagic  = "cbsm"
	manifestLen    = 45
	snapVersion    = 1
	maxSnapshot    = 1 << 30 // 1 GiB: about 900 million keys at 1%
	loadAttempts   = 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// manifest describes one saved snapshot.
type manifest struct {
	id     [idLen]byte
	chunks uint32
	total  uint64
	crc    uint32
	saved  time.Time
}

func (m *manifest) encode() []byte {
	b := make([]byte, 0, manifestLen)
	b = append(b, manifestMagic...)
	b = append(b, snapVersion)
	b = append(b, m.id[:]...)
	b = binary.BigEndian.AppendUint32(b, m.chunks)
	b = binary.BigEndian.AppendUint64(b, m.total)
	b = binary.BigEndian.AppendUint32(b, m.crc)
	return binary.BigEndian.AppendUint64(b, uint64(m.saved.UnixNano()))
}

func decodeManifest(b []byte) (manifest, error) {
	var m manifest
	if len(b) != manifestLen || string(b[:4]) != manifestMagic {
		return m, fmt.Errorf("%w: manifest: not a bloom snapshot manifest", ErrBadSnapshot)
	}
	if b[4] != snapVersion {
		return m, fmt.Errorf("%w: manifest: format version %d, want %d", ErrBadSnapshot, b[4], snapVersion)
	}
	copy(m.id[:], b[5:])
	m.chunks = binary.BigEndian.Uint32(b[21:])
	m.total = binary.BigEndian.Uint64(b[25:])
	m.crc = binary.BigEndian.Uint32(b[33:])
	m.saved = time.Unix(0, int64(binary.BigEndian.Uint64(b[37:])))
	if m.total == 0 || m.total > maxSnapshot || uint64(m.chunks) != (m.total+chunkData-1)/chunkData {
		return m, fmt.Errorf("%w: manifest: %d chunks for %d bytes", ErrBadSnapshot, m.chunks, m.total)
	}
	return m, nil
}

func (g *Guard) manifestKey() string { return "bloom:" + g.cfg.name + ":snapshot" }

func (g *Guard) chunkKey(i int) string { return g.manifestKey() + ":" + strconv.Itoa(i) }

// SaveSnapshot writes the live filter to the Store (see [WithStore]), so that a new
// instance can start from it with [Guard.LoadSnapshot]. It writes the chunks first and the
// manifest last, so a reader sees the previous snapshot until this one is complete;
// saves from several instances may run at once (the last manifest wins). A rebuild saves
// one after swapping its filter in. Adds may run meanwhile: each shard is copied as it
// is at that moment. It returns [ErrNoStore] without a Store, [ErrOpen] while the guard
// is open, and the Store's error, wrapped, if a write failed.
func (g *Guard) SaveSnapshot(ctx context.Context) error {
	st := g.cfg.store
	if st == nil {
		return ErrNoStore
	}
	if g.open.Load() {
		return ErrOpen
	}
	start := time.Now()
	data, err := encodeFilter(g.gen.Load())
	if err != nil {
		return fmt.Errorf("bloom: save snapshot %q: %w", g.cfg.name, err)
	}
	if len(data) > maxSnapshot {
		return fmt.Errorf("bloom: save snapshot %q: %d bytes, over the %d limit", g.cfg.name, len(data), maxSnapshot)
	}
	m := manifest{total: uint64(len(data)), crc: crc32.Checksum(data, crcTable), saved: start}
	m.chunks = uint32((len(data) + chunkData - 1) / chunkData)
	rand.Read(m.id[:])
	ttl := g.cfg.snapTTL
	if ttl == 0 {
		ttl = DefaultSnapshotTTL
	}
	item := func(v []byte) cached.Item { return cached.Item{Value: v, Written: start, Fresh: start.Add(ttl)} }
	for i := 0; len(data) > 0; i++ {
		part := data[:min(chunkData, len(data))]
		data = data[len(part):]
		v := make([]byte, 0, chunkHeaderLen+len(part))
		v = append(v, m.id[:]...)
		v = binary.BigEndian.AppendUint32(v, uint32(i))
		v = append(v, part...)
		if err := st.Set(ctx, g.chunkKey(i), item(v), ttl); err != nil {
			return fmt.Errorf("bloom: save snapshot %q: chunk %d: %w", g.cfg.name, i, err)
		}
	}
	if err := st.Set(ctx, g.manifestKey(), item(m.encode()), ttl); err != nil {
		return fmt.Errorf("bloom: save snapshot %q: manifest: %w", g.cfg.name, err)
	}
	g.cfg.logger.Debug("bloom: snapshot saved", "guard", g.cfg.name, "bytes", m.total,
		"chunks", m.chunks, "took", sinceStart(start))
	return nil
}

// LoadSnapshot reads the snapshot in the Store (see [WithStore]) and merges it into the
// live filter: afterwards the guard accepts every key either accepted. The merge is
// swapped in atomically, like a rebuild's filter, so no concurrent Add is lost; the
// filter's key count becomes the larger of the two (an estimate).
//
// The two filters merge when they have the same shape (the same expected keys and rate,
// give or take a rebuild that sized one up). When they do not, a live filter that holds
// no key yet takes the snapshot's shape and content; one that holds keys is left as it is
// and the error wraps [ErrGeometry]. It returns [ErrNoStore] without a Store,
// [ErrNoSnapshot] when there is none, an error wrapping [ErrBadSnapshot] when it cannot be
// read (never a panic; the live filter is unchanged), and the Store's error, wrapped,
// when the Store fails.
//
// A snapshot lacks the keys created after it was saved, until this guard subscribed to
// the Bus: load it before serving, then rebuild from the Source (in the background: the
// loaded filter serves meanwhile), or save snapshots often. An open guard (see [WithBus])
// stays open, since the snapshot may be older than the keys the Bus lost.
func (g *Guard) LoadSnapshot(ctx context.Context) error {
	if g.cfg.store == nil {
		return ErrNoStore
	}
	start := time.Now()
	data, m, err := g.readSnapshot(ctx)
	if err != nil {
		return fmt.Errorf("bloom: load snapshot %q: %w", g.cfg.name, err)
	}
	snap, err := decodeFilter(data)
	if err != nil {
		return fmt.Errorf("bloom: load snapshot %q: %w", g.cfg.name, err)
	}
	if err := g.merge(snap); err != nil {
		return fmt.Errorf("bloom: load snapshot %q: %w", g.cfg.name, err)
	}
	g.cfg.logger.Debug("bloom: snapshot loaded", "guard", g.cfg.name, "bytes", m.total,
		"keys", snap.added.Load(), "age", start.Sub(m.saved).Round(time.Second), "took", sinceStart(start))
	return nil
}

// errOtherSave marks a chunk written by another save than the manifest's.
var errOtherSave = errors.New("chunk of another save (a save ran concurrently)")

// readSnapshot reads the manifest and the chunks it lists, and checks them. A chunk of
// another save means a save is running: it reads again, from the manifest, after a pause.
func (g *Guard) readSnapshot(ctx context.Context) ([]byte, manifest, error) {
	for attempt := 1; ; attempt++ {
		m, err := g.readManifest(ctx)
		if err != nil {
			return nil, m, err
		}
		data, err := g.readChunks(ctx, m)
		if !errors.Is(err, errOtherSave) || attempt == loadAttempts {
			return data, m, err
		}
		t := time.NewTimer(time.Duration(attempt) * 100 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, m, ctx.Err()
		case <-t.C:
		}
	}
}

func (g *Guard) readManifest(ctx context.Context) (manifest, error) {
	it, ok, err := g.cfg.store.Get(ctx, g.manifestKey())
	switch {
	case err != nil:
		return manifest{}, fmt.Errorf("manifest: %w", err)
	case !ok:
		return manifest{}, ErrNoSnapshot
	}
	return decodeManifest(it.Value)
}

func (g *Guard) readChunks(ctx context.Context, m manifest) ([]byte, error) {
	var data []byte // grown as chunks arrive: m.total is not trusted for an allocation
	for i := 0; i < int(m.chunks); i++ {
		it, ok, err := g.cfg.store.Get(ctx, g.chunkKey(i))
		switch {
		case err != nil:
			return nil, fmt.Errorf("chunk %d: %w", i, err)
		case !ok:
			return nil, fmt.Errorf("%w: chunk %d of %d missing", ErrBadSnapshot, i, m.chunks)
		case len(it.Value) < chunkHeaderLen || len(it.Value) > chunkSize:
			return nil, fmt.Errorf("%w: chunk %d: %d bytes", ErrBadSnapshot, i, len(it.Value))
		case [idLen]byte(it.Value[:idLen]) != m.id:
			return nil, fmt.Errorf("%w: chunk %d: %w", ErrBadSnapshot, i, errOtherSave)
		case binary.BigEndian.Uint32(it.Value[idLen:]) != uint32(i):
			return nil, fmt.Errorf("%w: chunk %d: holds chunk %d", ErrBadSnapshot, i, binary.BigEndian.Uint32(it.Value[idLen:]))
		}
		data = append(data, it.Value[chunkHeaderLen:]...)
		if uint64(len(data)) > m.total {
			return nil, fmt.Errorf("%w: longer than the manifest's %d bytes", ErrBadSnapshot, m.total)
		}
	}
	if uint64(len(data)) != m.total {
		return nil, fmt.Errorf("%w: %d bytes, the manifest says %d", ErrBadSnapshot, len(data), m.total)
	}
	if crc32.Checksum(data, crcTable) != m.crc {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrBadSnapshot)
	}
	return data, nil
}

// merge makes the union of snap and the live filter the live filter (see LoadSnapshot).
func (g *Guard) merge(snap *filter) error {
	g.addMu.Lock() // no Add in flight: every Add so far is in cur
	cur := g.gen.Load()
	switch {
	case sameShape(cur, snap):
		next := &filter{expected: cur.expected, fpRate: cur.fpRate, shards: make([]shard, len(cur.shards)), mask: cur.mask}
		for i := range next.shards {
			f := snap.shards[i].f.Load() // decoded here, so ours to change
			if err := f.Merge(cur.shards[i].f.Load()); err != nil {
				g.addMu.Unlock()
				return fmt.Errorf("%w: shard %d: %v", ErrGeometry, i, err)
			}
			next.shards[i].f.Store(f)
		}
		next.added.Store(max(cur.added.Load(), snap.added.Load()))
		g.gen.Store(next)
	case cur.added.Load() == 0:
		g.gen.Store(snap)
	case g.adoptable():
		// Not warmed yet: the only keys it holds are the ones logged since New (from
		// the Bus, loads, Puts). Take the snapshot's shape and add them to it.
		g.coldMu.Lock()
		snap.addBatch(g.cold)
		g.coldMu.Unlock()
		g.gen.Store(snap)
	default:
		g.addMu.Unlock()
		return fmt.Errorf("%w: snapshot has %d shards for %d keys at %v, live filter %d shards for %d keys at %v, holding %d keys",
			ErrGeometry, len(snap.shards), snap.expected, snap.fpRate, len(cur.shards), cur.expected, cur.fpRate, cur.added.Load())
	}
	g.warned.Store(false)
	g.addMu.Unlock()
	g.warmed()
	g.checkOverfill() // logs: not under the lock
	return nil
}

// adoptable reports whether the guard was never warmed and logged every key added since
// New.
func (g *Guard) adoptable() bool {
	g.coldMu.Lock()
	defer g.coldMu.Unlock()
	return !g.warm.Load() && !g.coldOver
}

// sameShape reports whether a and b have the same shards, each of the same size and
// number of hash functions, so that their union is a Bloom filter of both key sets.
func sameShape(a, b *filter) bool {
	if len(a.shards) != len(b.shards) {
		return false
	}
	for i := range a.shards {
		x, y := a.shards[i].f.Load(), b.shards[i].f.Load()
		if x.Cap() != y.Cap() || x.K() != y.K() {
			return false
		}
	}
	return true
}

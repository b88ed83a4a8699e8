package bloom_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"iter"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

// reviewBus is a Bus whose subscriber the test drives by hand (deliver), and whose Publish
// either succeeds at once or, when down, waits for its context to end (etcd unreachable).
type reviewBus struct {
	mu        sync.Mutex // protects h
	h         func(cached.Message)
	down      bool
	published atomic.Int64 // Publish calls
}

func (b *reviewBus) Publish(ctx context.Context, m cached.Message) error {
	b.published.Add(1)
	if b.down {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func (b *reviewBus) Subscribe(h func(cached.Message)) func() {
	b.mu.Lock()
	b.h = h
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		b.h = nil
		b.mu.Unlock()
	}
}

func (b *reviewBus) deliver(m cached.Message) {
	b.mu.Lock()
	h := b.h
	b.mu.Unlock()
	if h != nil {
		h(m)
	}
}

// gatedSource is a Source that counts its reads; the first read yields one key, signals
// started, and waits for release before yielding the rest.
type gatedSource struct {
	reads   atomic.Int64
	keys    iter.Seq[string]
	started chan struct{}
	release chan struct{}
}

func newGatedSource(keys iter.Seq[string]) *gatedSource {
	return &gatedSource{keys: keys, started: make(chan struct{}), release: make(chan struct{})}
}

func (s *gatedSource) read(ctx context.Context) (iter.Seq[string], error) {
	first := s.reads.Add(1) == 1
	return func(yield func(string) bool) {
		n := 0
		for k := range s.keys {
			if !yield(k) {
				return
			}
			if n++; n == 1 && first {
				close(s.started)
				select {
				case <-s.release:
				case <-ctx.Done():
					return
				}
			}
		}
	}, nil
}

// TestPendingDoesNotGrowWithRepeatedAdds: while a rebuild runs, every Add appends its
// key to the pending list, even a key the filter (and the list) already holds. A hot key
// loaded over and over during a rebuild grows the list by one string per load: memory in
// proportion to the load rate times the rebuild's duration (unbounded for Rebuild called
// with a context that never ends), not to the keys.
func TestPendingDoesNotGrowWithRepeatedAdds(t *testing.T) {
	src := newGatedSource(keys("k", 10))
	g := bloom.New(1000, 0.01, bloom.RebuildFrom(src.read, 0), bloom.Logger(nil))
	defer g.Close()
	done := make(chan error, 1)
	go func() { done <- g.Rebuild(context.Background()) }()
	<-src.started // the rebuild is reading the Source: Adds go to the pending list too

	g.Add("hot")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const adds = 1 << 20
	for range adds {
		g.Add("hot") // present already: nothing new to remember
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	close(src.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !g.MayExist("hot") {
		t.Fatal(`MayExist("hot") = false after the rebuild; want true`)
	}
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if grew > 4<<20 {
		t.Errorf("heap grew by %d MiB for %d Adds of one present key during a rebuild; want under 4 MiB",
			grew>>20, adds)
	}
}

// TestResyncsCoalesce: each TopicResync starts a goroutine that waits for the running
// rebuild and then reads the whole Source again. A flapping Bus during one slow rebuild
// queues one goroutine and one full scan of the database per resync; one rebuild after
// the running one covers them all.
func TestResyncsCoalesce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &reviewBus{}
		src := newGatedSource(keys("k", 10))
		g := bloom.New(1000, 0.01, bloom.WithBus(b), bloom.RebuildFrom(src.read, 0), bloom.Logger(nil))
		defer g.Close()
		b.deliver(cached.Message{Topic: cached.TopicResync})
		<-src.started // the resync's rebuild is reading the Source
		const more = 20
		for range more {
			b.deliver(cached.Message{Topic: cached.TopicResync})
		}
		close(src.release)
		synctest.Wait() // every rebuild goroutine has run
		if got := src.reads.Load(); got > 2 {
			t.Errorf("Source read %d times for %d resyncs during one rebuild; want at most 2", got, more+1)
		}
		if g.Stats().Open {
			t.Error("guard still open after the rebuilds")
		}
	})
}

// TestFlushGivesUpAfterFailedPublish: with the Bus down (a publish waits for its 5s
// timeout), flush still tries every remaining batch, 5s each; Close waits for that. The
// failed publish already makes the other instances resync (the Bus's gap), so the rest
// of the batch need not be tried; meanwhile the outbox grows with every Put.
func TestFlushGivesUpAfterFailedPublish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := &reviewBus{down: true}
		g := bloom.New(1000, 0.01, bloom.WithBus(b), bloom.Logger(nil))
		big := strings.Repeat("x", 300<<10) // one key per 512 KiB message
		const batches = 4
		for i := range batches {
			g.Written(big + strconv.Itoa(i))
		}
		start := time.Now()
		g.Close()
		took := time.Since(start)
		if took > 6*time.Second {
			t.Errorf("Close took %v with the Bus down (%d publishes tried); want at most one publish timeout (5s)",
				took, b.published.Load())
		}
	})
}

// reviewTamper rewrites the snapshot of name in st through edit (applied to the encoded
// filter, which must fit one chunk) and fixes up the manifest's checksum, as a writer with
// access to the shared Store could.
func reviewTamper(t *testing.T, st cached.Store, name string, edit func(enc []byte)) {
	t.Helper()
	ctx := context.Background()
	mkey := "bloom:" + name + ":snapshot"
	man, ok, err := st.Get(ctx, mkey)
	if err != nil || !ok {
		t.Fatalf("manifest: ok %v, err %v", ok, err)
	}
	if n := binary.BigEndian.Uint32(man.Value[21:]); n != 1 {
		t.Fatalf("snapshot has %d chunks; want 1", n)
	}
	ch, ok, err := st.Get(ctx, mkey+":0")
	if err != nil || !ok {
		t.Fatalf("chunk: ok %v, err %v", ok, err)
	}
	enc := ch.Value[20:]
	edit(enc)
	binary.BigEndian.PutUint32(man.Value[33:], crc32.Checksum(enc, crc32.MakeTable(crc32.Castagnoli)))
	if err := st.Set(ctx, mkey+":0", ch, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Set(ctx, mkey, man, time.Hour); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotOfAddedKeyLoads: clone builds each copied shard with FromWithM, whose
// bitset is len(words)*64 bits long, not m; WriteTo encodes that length and decodeShard
// refuses any length but m. So a snapshot of a filter that took one Add (m not a multiple
// of 64, as NewWithEstimates nearly always gives) is ErrBadSnapshot: no guard ever starts
// warm. (The existing TestSnapshotRoundTrip and its neighbours fail for the same reason.)
func TestSnapshotOfAddedKeyLoads(t *testing.T) {
	st := newCountStore()
	a := snapGuard(t, st, 1000, "one")
	a.Add("42")
	if err := a.SaveSnapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := snapGuard(t, st, 1000, "one")
	if err := b.LoadSnapshot(context.Background()); err != nil {
		t.Fatalf("LoadSnapshot of a guard holding one key: %v; want nil", err)
	}
	if !b.MayExist("42") {
		t.Error(`MayExist("42") = false after loading the snapshot; want true`)
	}
}

// TestHostileSnapshotHeader: decodeFilter checks the shards against the data but
// trusts the header's expected keys and key count, which nothing ties to the shards. A
// snapshot (CRC fixed up) claiming 2^63 expected keys, or 2^62 keys added, loads without
// error; the next rebuild sizes a filter from it and panics in bits-and-blooms (makeslice:
// len out of range). The package doc promises a hostile snapshot is an error, never a
// panic or a huge allocation.
func TestHostileSnapshotHeader(t *testing.T) {
	cases := []struct {
		name     string
		liveSize uint // the loading guard's size: 1000 (one shard) adopts, 100_000 merges
		edit     func(enc []byte)
	}{
		{"expected", 1000, func(enc []byte) { binary.BigEndian.PutUint64(enc[5:], 1<<63) }},
		{"added", 100_000, func(enc []byte) { binary.BigEndian.PutUint64(enc[25:], 1<<62) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newCountStore()
			// An empty guard's snapshot: its shards were never copied by an Add, so it
			// loads today (see TestSnapshotOfAddedKeyLoads for the others).
			a := snapGuard(t, st, 100_000, "hostile")
			if err := a.SaveSnapshot(context.Background()); err != nil {
				t.Fatal(err)
			}
			reviewTamper(t, st, "hostile", tc.edit)

			b := snapGuard(t, st, tc.liveSize, "hostile", bloom.RebuildFrom(func(context.Context) (iter.Seq[string], error) {
				return keys("k", 100), nil
			}, 0))
			if tc.name == "added" {
				snapFill(t, b, "k", 1) // a live key: the shapes merge
			}
			err := b.LoadSnapshot(context.Background())
			if errors.Is(err, bloom.ErrBadSnapshot) {
				return // rejected: fine
			}
			if s := b.Stats(); s.Expected > 1<<40 || s.Keys > 1<<40 {
				t.Errorf("after LoadSnapshot (err %v): Stats Expected %d, Keys %d; want the snapshot rejected", err, s.Expected, s.Keys)
			}
			func() {
				defer func() {
					if p := recover(); p != nil {
						t.Errorf("Rebuild after loading the snapshot panicked: %v", p)
					}
				}()
				b.Rebuild(context.Background())
			}()
		})
	}
}

// TestSaturatedRebuildReadsSourceOnce: a guard far past its size has shards with
// every bit set, whose key estimate is +Inf; rebuild converts it with uint(+Inf)*2, which
// Go leaves to the implementation (on amd64 2^63*2 wraps to 0, on arm64 it saturates and
// the filter asks for ~10^17 bits). Here it sizes the first build for no keys, so the
// Source (a full scan of the table) is read twice.
func TestSaturatedRebuildReadsSourceOnce(t *testing.T) {
	var reads atomic.Int64
	src := func(context.Context) (iter.Seq[string], error) {
		reads.Add(1)
		return keys("s", 100), nil
	}
	g := bloom.New(1000, 0.01, bloom.RebuildFrom(src, 0), bloom.Logger(nil))
	defer g.Close()
	if err := g.Fill(context.Background(), keys("k", 200_000)); err != nil {
		t.Fatal(err)
	}
	if s := g.Stats(); s.Fill != 1 {
		t.Fatalf("Fill = %v; want a saturated filter (1)", s.Fill)
	}
	if err := g.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := reads.Load(); got != 1 {
		t.Errorf("Source read %d times by one rebuild of 100 keys into a sized-up filter; want 1 (Expected now %d)",
			got, g.Stats().Expected)
	}
}

// TestNewInstanceStartsWarmAfterResize: once any instance's rebuild sized its filter
// up (overfill), the snapshot it saves has another shape than New(n, p) on a new
// instance. The new instance subscribes to the Bus in New, so in a fleet with traffic it
// holds a key or two by the time it calls LoadSnapshot; merge then refuses the snapshot
// (ErrGeometry) and the instance starts cold, ruling out every existing key: the
// documented recipe (New with WithBus and WithStore, LoadSnapshot before serving) does not
// start warm.
func TestNewInstanceStartsWarmAfterResize(t *testing.T) {
	st := newCountStore()
	var lb cached.LocalBus
	src := func(context.Context) (iter.Seq[string], error) { return keys("k", 3000), nil }
	a := snapGuard(t, st, 1000, "resized", bloom.RebuildFrom(src, 0))
	if err := a.Fill(context.Background(), keys("k", 3000)); err != nil {
		t.Fatal(err)
	}
	if err := a.Rebuild(context.Background()); err != nil { // sized up; saves a snapshot
		t.Fatal(err)
	}
	if got := a.Stats().Expected; got <= 1000 {
		t.Fatalf("Expected after rebuilding an overfilled guard = %d; want > 1000", got)
	}

	c := snapGuard(t, st, 1000, "resized", bloom.WithBus(&lb)) // a new instance
	// Traffic before c loads: another instance's batch of one new key (LocalBus delivers
	// synchronously).
	data := binary.AppendUvarint(nil, uint64(len("new-record")))
	data = append(data, "new-record"...)
	if err := lb.Publish(context.Background(), cached.Message{Topic: bloom.TopicAdd, Source: "other", Func: "resized", Data: data}); err != nil {
		t.Fatal(err)
	}
	if !c.MayExist("new-record") {
		t.Fatal("the key from the Bus was not added")
	}
	err := c.LoadSnapshot(context.Background())
	if n := missing(c, "k", 3000); err != nil || n > 0 {
		t.Errorf("new instance: LoadSnapshot: %v; %d of 3000 existing keys ruled out; want a warm start", err, n)
	}
}

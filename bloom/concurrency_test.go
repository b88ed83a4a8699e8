package bloom_test

// Concurrency: Fill, Add, MayExist and Rebuild together, and the Bus.

import (
	"context"
	"iter"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bloom"
)

// TestFillConcurrent runs Fill while other goroutines test and add keys (for -race), and
// checks that no key was lost.
func TestFillConcurrent(t *testing.T) {
	ctx := context.Background()
	const (
		early   = 50_000  // filled before the race starts
		filled  = 200_000 // filled during it
		adders  = 2
		perAdd  = 5_000
		readers = 2
	)
	g := bloom.New(early+filled+adders*perAdd, 0.01)
	if err := g.Fill(ctx, idSeq(0, early)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		if err := g.Fill(ctx, idSeq(early, filled)); err != nil {
			t.Errorf("Fill: %v", err)
		}
	})
	for a := range adders {
		wg.Go(func() {
			for k := range idSeq(int64(1_000_000*(a+1)), perAdd) {
				g.Add(k)
				if !g.MayExist(k) {
					t.Errorf("MayExist(%q) right after Add = false; want true", k)
					return
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for i := int64(r); ; i = (i + 7919) % early {
				select {
				case <-done:
					return
				default:
				}
				if k := strconv.FormatInt(i, 10); !g.MayExist(k) {
					t.Errorf("MayExist(%q) during a Fill = false; want true (filled before)", k)
					return
				}
				g.MayExist(strconv.FormatInt(i+early, 10)) // a key being filled: either answer
			}
		})
	}
	wg.Wait()
	for k := range idSeq(0, early+filled) {
		if !g.MayExist(k) {
			t.Fatalf("MayExist(%q) after the Fills = false; want true", k)
		}
	}
	for a := range adders {
		for k := range idSeq(int64(1_000_000*(a+1)), perAdd) {
			if !g.MayExist(k) {
				t.Fatalf("MayExist(%q) after Add = false; want true", k)
			}
		}
	}
}

// TestAddSeenByOtherGoroutines checks that a key once added is never reported absent, by
// any goroutine, after a happens-before edge from its Add: writers add keys and then
// publish how many (an atomic store); readers load that count and test keys below it.
func TestAddSeenByOtherGoroutines(t *testing.T) {
	const (
		writers   = 4
		perWriter = 10_000
		readers   = 4
	)
	g := bloom.New(writers*perWriter, 0.01)
	var published [writers]atomic.Int64
	key := func(w int, i int64) string { return strconv.Itoa(w) + "-" + strconv.FormatInt(i, 10) }
	var wg sync.WaitGroup
	var writing sync.WaitGroup
	handoff := make(chan string, 64) // a second edge: keys sent after their Add
	for w := range writers {
		writing.Go(func() {
			for i := range int64(perWriter) {
				k := key(w, i)
				g.Add(k)
				published[w].Store(i + 1)
				if i%16 == 0 {
					handoff <- k
				}
			}
		})
	}
	wg.Go(func() {
		for k := range handoff {
			if !g.MayExist(k) {
				t.Errorf("MayExist(%q), received after its Add = false; want true", k)
			}
		}
	})
	stop := make(chan struct{})
	for r := range readers {
		wg.Go(func() {
			x := uint64(r + 1)
			for {
				select {
				case <-stop:
					return
				default:
				}
				for w := range writers {
					n := published[w].Load()
					if n == 0 {
						continue
					}
					x = x*6364136223846793005 + 1442695040888963407
					for _, i := range []int64{n - 1, int64(x>>33) % n} {
						if k := key(w, i); !g.MayExist(k) {
							t.Errorf("MayExist(%q) after it was published = false; want true", k)
							return
						}
					}
				}
			}
		})
	}
	writing.Wait()
	close(handoff)
	close(stop)
	wg.Wait()
	for w := range writers {
		for i := range int64(perWriter) {
			if k := key(w, i); !g.MayExist(k) {
				t.Fatalf("MayExist(%q) at the end = false; want true", k)
			}
		}
	}
}

// table is a stand-in for a database table: rows are inserted, and a Source reads them
// all.
type table struct {
	mu   sync.Mutex // protects rows
	rows []string
}

func (tb *table) insert(k string) {
	tb.mu.Lock()
	tb.rows = append(tb.rows, k)
	tb.mu.Unlock()
}

func (tb *table) scan(context.Context) (iter.Seq[string], error) {
	tb.mu.Lock()
	rows := tb.rows[:len(tb.rows):len(tb.rows)]
	tb.mu.Unlock()
	return func(yield func(string) bool) {
		for _, k := range rows {
			if !yield(k) {
				return
			}
		}
	}, nil
}

// TestAddNeverLostToRebuild adds keys (each inserted in the table first, as a record is
// created before it is Put) while rebuilds from the table run back to back, and checks
// that no reader ever finds a published key absent: a key is either in the rebuild's scan
// or added while the rebuild runs.
func TestAddNeverLostToRebuild(t *testing.T) {
	const (
		writers   = 2
		perWriter = 5_000
	)
	tb := &table{}
	g := bloom.New(writers*perWriter, 0.01, bloom.RebuildFrom(tb.scan, 0), bloom.Logger(nil))
	defer g.Close()
	var published [writers]atomic.Int64
	key := func(w int, i int64) string { return "w" + strconv.Itoa(w) + "-" + strconv.FormatInt(i, 10) }
	var writing, wg sync.WaitGroup
	for w := range writers {
		writing.Go(func() {
			for i := range int64(perWriter) {
				k := key(w, i)
				tb.insert(k)
				g.Add(k)
				published[w].Store(i + 1)
			}
		})
	}
	stop := make(chan struct{})
	var rebuilds int
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := g.Rebuild(context.Background()); err != nil {
				t.Errorf("Rebuild: %v", err)
				return
			}
			rebuilds++
		}
	})
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			for w := range writers {
				n := published[w].Load()
				for i := max(n-64, 0); i < n; i++ {
					if k := key(w, i); !g.MayExist(k) {
						t.Errorf("MayExist(%q) after it was published = false; want true (lost to a rebuild)", k)
						return
					}
				}
			}
		}
	})
	writing.Wait()
	close(stop)
	wg.Wait()
	for w := range writers {
		for i := range int64(perWriter) {
			if k := key(w, i); !g.MayExist(k) {
				t.Fatalf("MayExist(%q) at the end = false; want true", k)
			}
		}
	}
	t.Logf("%d rebuilds ran during %d Adds", rebuilds, writers*perWriter)
}

// TestBusSendsEveryWrittenKey checks that a key written on one instance reaches another even
// when it is a false positive of the first instance's filter: the two filters need not
// hold the same keys (one rebuilt more recently and forgot deleted keys, one was filled
// differently), so a false positive here says nothing about the other instance, and a
// key not sent is answered "not found" there until its next rebuild.
func TestBusSendsEveryWrittenKey(t *testing.T) {
	bus := &cached.LocalBus{}
	a := bloom.New(100, 0.01, bloom.WithBus(bus), bloom.Logger(nil))
	b := bloom.New(100, 0.01, bloom.WithBus(bus), bloom.Logger(nil))
	defer b.Close()
	// b was rebuilt and forgot the deleted records 50 to 99; a was not, and still holds
	// them. A new key that is a false positive on a is not one on b.
	a.Fill(context.Background(), idSeq(0, 100))
	b.Fill(context.Background(), idSeq(0, 50))
	var sent []string
	for k := range idSeq(1_000_000, 10_000) {
		if a.MayExist(k) && !b.MayExist(k) {
			a.Written(k) // a record created on a: the engine calls Written after Put
			sent = append(sent, k)
			if len(sent) == 10 {
				break
			}
		}
	}
	if len(sent) == 0 {
		t.Fatal("no new key is a false positive on a only")
	}
	a.Close() // sends what is waiting
	for _, k := range sent {
		if !b.MayExist(k) {
			t.Errorf("b.MayExist(%q) after a added it = false; want true (a did not send it: a false positive on a)", k)
		}
	}
}

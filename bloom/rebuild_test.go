package bloom_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached/bloom"
)

// keys returns "prefix0" .. "prefix<n-1>".
func keys(prefix string, n int) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range n {
			if !yield(fmt.Sprint(prefix, i)) {
				return
			}
		}
	}
}

// source is a switchable Source.
type source struct {
	mu   sync.Mutex // protects seq and err
	seq  iter.Seq[string]
	err  error
	gate chan struct{} // when set, the Source's iterator waits on it after its first key
}

func (s *source) set(seq iter.Seq[string], err error) {
	s.mu.Lock()
	s.seq, s.err = seq, err
	s.mu.Unlock()
}

func (s *source) read(ctx context.Context) (iter.Seq[string], error) {
	s.mu.Lock()
	seq, err, gate := s.seq, s.err, s.gate
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return func(yield func(string) bool) {
		first := true
		for k := range seq {
			if !yield(k) {
				return
			}
			if first && gate != nil {
				<-gate
			}
			first = false
		}
	}, nil
}

// TestRebuildForgetsDeletedKeys: a rebuild from the Source drops keys that no longer exist.
func TestRebuildForgetsDeletedKeys(t *testing.T) {
	src := &source{}
	src.set(keys("k", 2000), nil)
	g := bloom.New(2000, 0.01, bloom.RebuildFrom(src.read, 0))
	defer g.Close()
	ctx := context.Background()
	if err := g.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	src.set(keys("k", 1000), nil) // k1000..k1999 deleted
	if err := g.Rebuild(ctx); err != nil {
		t.Fatal(err)
	}
	kept, forgotten := 0, 0
	for i := range 2000 {
		if g.MayExist(fmt.Sprint("k", i)) {
			if i < 1000 {
				kept++
			}
		} else if i >= 1000 {
			forgotten++
		}
	}
	if kept != 1000 {
		t.Errorf("%d of the 1000 existing keys kept; want all", kept)
	}
	if forgotten < 950 {
		t.Errorf("%d of the 1000 deleted keys forgotten; want about 990 (1%% false positives)", forgotten)
	}
	if st := g.Stats(); st.Rebuilds != 2 || st.Keys > 1000 {
		t.Errorf("Stats: Rebuilds %d, Keys %d; want 2, at most 1000", st.Rebuilds, st.Keys)
	}
}

// TestOverfillReportedAndSizedUp: a guard given five times the keys it was sized for says
// so, and its next rebuild sizes up so the false-positive rate is back near target.
func TestOverfillReportedAndSizedUp(t *testing.T) {
	src := &source{}
	src.set(keys("k", 5000), nil)
	g := bloom.New(1000, 0.01, bloom.RebuildFrom(src.read, 0), bloom.Logger(nil))
	defer g.Close()
	if err := g.Fill(context.Background(), keys("k", 5000)); err != nil {
		t.Fatal(err)
	}
	before := g.Stats()
	if !before.Overfilled || before.EstimatedFPRate < 0.05 {
		t.Fatalf("overfilled guard: Overfilled %v, estimated FP %.3f; want true, well above 1%%", before.Overfilled, before.EstimatedFPRate)
	}
	if err := g.Rebuild(context.Background()); err != nil {
		t.Fatal(err)
	}
	after := g.Stats()
	t.Logf("before: %+v", before)
	t.Logf("after:  %+v", after)
	if after.Overfilled || after.Expected < 5000 || after.EstimatedFPRate > 0.012 {
		t.Errorf("after rebuild: Overfilled %v, Expected %d, estimated FP %.4f; want false, >= 5000, about 1%% or less",
			after.Overfilled, after.Expected, after.EstimatedFPRate)
	}
	for k := range keys("k", 5000) {
		if !g.MayExist(k) {
			t.Fatalf("%s lost in the rebuild", k)
		}
	}
}

// TestAddDuringRebuildKept: a key added while a rebuild reads its Source is in the filter
// swapped in, though the Source did not list it.
func TestAddDuringRebuildKept(t *testing.T) {
	src := &source{gate: make(chan struct{})}
	src.set(keys("k", 100), nil)
	g := bloom.New(1000, 0.01, bloom.RebuildFrom(src.read, 0))
	defer g.Close()
	done := make(chan error)
	go func() { done <- g.Rebuild(context.Background()) }()
	src.gate <- struct{}{} // the rebuild has read its first key and waits
	g.Add("created-meanwhile")
	close(src.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !g.MayExist("created-meanwhile") || !g.MayExist("k99") {
		t.Error("a key added during the rebuild, or one of the Source's, is missing after it")
	}
}

// TestRebuildFailureKeepsFilter: a Source that fails leaves the live filter as it was.
func TestRebuildFailureKeepsFilter(t *testing.T) {
	src := &source{}
	src.set(nil, errors.New("database down"))
	g := bloom.New(1000, 0.01, bloom.RebuildFrom(src.read, 0), bloom.Logger(nil))
	defer g.Close()
	g.Add("x")
	if err := g.Rebuild(context.Background()); err == nil {
		t.Fatal("Rebuild with a failing Source: nil error")
	}
	if !g.MayExist("x") {
		t.Error("a failed rebuild lost the live filter's key")
	}
	if st := g.Stats(); st.RebuildErrors != 1 || st.Rebuilds != 0 {
		t.Errorf("RebuildErrors, Rebuilds = %d, %d; want 1, 0", st.RebuildErrors, st.Rebuilds)
	}
	if err := bloom.New(10, 0.01).Rebuild(context.Background()); !errors.Is(err, bloom.ErrNoSource) {
		t.Errorf("Rebuild without a Source = %v; want ErrNoSource", err)
	}
}

// TestPeriodicRebuild: RebuildFrom with a period rebuilds on its own until Close.
func TestPeriodicRebuild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &source{}
		src.set(keys("k", 10), nil)
		g := bloom.New(100, 0.01, bloom.RebuildFrom(src.read, time.Minute))
		time.Sleep(3*time.Minute + time.Second)
		synctest.Wait()
		if n := g.Stats().Rebuilds; n != 3 {
			t.Errorf("Rebuilds after 3 periods = %d; want 3", n)
		}
		g.Close()
		time.Sleep(5 * time.Minute)
		if n := g.Stats().Rebuilds; n != 3 {
			t.Errorf("Rebuilds after Close = %d; want still 3", n)
		}
	})
}

// TestBadArgumentsPanic: New's arguments are programmer errors.
func TestBadArgumentsPanic(t *testing.T) {
	for _, tc := range []struct {
		n  uint
		fp float64
	}{{0, 0.01}, {10, 0}, {10, 1}, {10, -0.5}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%d, %v) did not panic", tc.n, tc.fp)
				}
			}()
			bloom.New(tc.n, tc.fp)
		}()
	}
}

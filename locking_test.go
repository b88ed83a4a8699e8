package cached_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// heldLocker is a Locker that grants every lock until held is set; then another instance
// holds them, and Lock waits until its context ends. Each Lock call sends its key to locked,
// when set.
type heldLocker struct {
	held   atomic.Bool
	locked chan string
}

func (l *heldLocker) Lock(ctx context.Context, key string) (cached.Unlocker, error) {
	if l.locked != nil {
		l.locked <- key
	}
	if !l.held.Load() {
		return noopUnlocker{}, nil
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestLockTimeoutFallback: a lock another instance keeps is waited for LockTimeout, then
// LockFallback decides: load, serve stale (if any, else load) or fail with ErrLock. Each
// such failure is counted.
func TestLockTimeoutFallback(t *testing.T) {
	for _, tc := range []struct {
		fb       cached.Fallback
		stale    bool // a stale value is held when the lock times out
		wantVal  int
		wantErr  error
		wantLoad int
	}{
		{cached.FailOpen, false, 1, nil, 1},
		{cached.FailOpen, true, 2, nil, 2},
		{cached.FailStale, true, 1, nil, 1},
		{cached.FailStale, false, 1, nil, 1}, // no stale value: load
		{cached.FailClosed, false, 0, cached.ErrLock, 0},
	} {
		name := fallbackName(tc.fb)
		if tc.stale {
			name += "/stale-held"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := &heldLocker{}
				c := newCache(t, cached.WithLocker(l), cached.TTL(time.Minute), cached.Jitter(nil),
					cached.StaleIfError(time.Hour), cached.LockTimeout(2*time.Second),
					cached.LockFallback(tc.fb), quiet)
				loads := 0
				f := cached.NewFunc(c, "f", func(context.Context, int) (int, error) { loads++; return loads, nil })
				ctx := context.Background()
				if tc.stale {
					if _, err := f.Get(ctx, 1); err != nil { // loaded under a granted lock
						t.Fatal(err)
					}
					time.Sleep(2 * time.Minute) // expired; stale within StaleIfError
				}
				l.held.Store(true)
				start := time.Now()
				v, err := f.Get(ctx, 1)
				if waited := time.Since(start); waited != 2*time.Second {
					t.Errorf("waited %v for the lock; want the LockTimeout, 2s", waited)
				}
				if v != tc.wantVal || !errors.Is(err, tc.wantErr) {
					t.Errorf("got %d, %v; want %d, %v", v, err, tc.wantVal, tc.wantErr)
				}
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("err = %v; want it to say the wait timed out", err)
				}
				if loads != tc.wantLoad {
					t.Errorf("loads = %d; want %d", loads, tc.wantLoad)
				}
				if got := c.Stats().Funcs["f"].LockErrors; got != 1 {
					t.Errorf("LockErrors = %d; want 1", got)
				}
			})
		})
	}
}

// TestLockTimeoutDoubleChecksStore: another instance that loads the key while this one
// waits for the lock is not loaded again, even when the wait times out: the flight reads
// the Store once more before it falls back.
func TestLockTimeoutDoubleChecksStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		l := &heldLocker{locked: make(chan string, 1)}
		l.held.Store(true)
		c := newCache(t, cached.WithStore(store), cached.WithLocker(l), cached.LockTimeout(time.Second), quiet)
		other := newCache(t, cached.WithStore(store), quiet)
		loads := 0
		get := cached.Wrap(c, "f", func(context.Context, int) (int, error) { loads++; return -1, nil })
		put := cached.NewFunc(other, "f", func(context.Context, int) (int, error) { return 0, nil })
		done := make(chan int)
		go func() {
			v, _ := get(context.Background(), 1)
			done <- v
		}()
		<-l.locked // waiting for the lock the other instance holds
		if err := put.Put(context.Background(), 1, 42); err != nil {
			t.Fatal(err)
		}
		if v := <-done; v != 42 || loads != 0 {
			t.Errorf("got %d after %d loads; want the other instance's 42 and no load", v, loads)
		}
	})
}

// gatedUnlocker's Unlock waits for release.
type gatedUnlocker struct {
	release  chan struct{}
	unlocked *atomic.Bool
}

func (u gatedUnlocker) Unlock(ctx context.Context) error {
	<-u.release
	u.unlocked.Store(true)
	return nil
}
func (gatedUnlocker) Fence() uint64 { return 0 }

type gatedLocker struct{ u gatedUnlocker }

func (l gatedLocker) Lock(context.Context, string) (cached.Unlocker, error) { return l.u, nil }

// TestCallersDoNotWaitForUnlock: the callers have their answer once the value is stored;
// the lock is released after, on a goroutine that Close waits for.
func TestCallersDoNotWaitForUnlock(t *testing.T) {
	u := gatedUnlocker{release: make(chan struct{}), unlocked: new(atomic.Bool)}
	c := cached.New(cached.WithLocker(gatedLocker{u}), quiet)
	get := cached.Wrap(c, "f", func(context.Context, int) (int, error) { return 7, nil })
	if v, err := get(context.Background(), 1); v != 7 || err != nil {
		t.Fatalf("got %d, %v; want 7", v, err)
	}
	if u.unlocked.Load() {
		t.Fatal("unlocked before the caller was answered: the gate is broken")
	}
	close(u.release)
	c.Close()
	if !u.unlocked.Load() {
		t.Error("Close returned before the lock was released")
	}
}

type panickingLocker struct{}

func (panickingLocker) Lock(context.Context, string) (cached.Unlocker, error) { panic("locker bug") }

// TestLockerPanicFallsBack: a panicking Locker is a lock failure, not a failed call.
func TestLockerPanicFallsBack(t *testing.T) {
	c := newCache(t, cached.WithLocker(panickingLocker{}), quiet)
	get := cached.Wrap(c, "f", func(context.Context, int) (int, error) { return 7, nil })
	if v, err := get(context.Background(), 1); v != 7 || err != nil {
		t.Fatalf("got %d, %v; want 7", v, err)
	}
	if got := c.Stats().Funcs["f"].LockErrors; got != 1 {
		t.Errorf("LockErrors = %d; want 1", got)
	}
}

// countingLocker grants every lock and counts the Lock calls.
type countingLocker struct{ calls atomic.Int32 }

func (l *countingLocker) Lock(context.Context, string) (cached.Unlocker, error) {
	l.calls.Add(1)
	return noopUnlocker{}, nil
}

// TestOneLockPerKeyPerProcess: the callers of a cold key in one process ask the Locker
// once, through their flight, not once each.
func TestOneLockPerKeyPerProcess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &countingLocker{}
		c := newCache(t, cached.WithLocker(l), quiet)
		get := cached.Wrap(c, "f", func(context.Context, int) (int, error) {
			time.Sleep(time.Second) // a slow load: every caller arrives during it
			return 1, nil
		})
		for range 100 {
			go get(context.Background(), 1)
		}
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if n := l.calls.Load(); n != 1 {
			t.Errorf("Lock calls = %d for 100 callers of one key; want 1", n)
		}
	})
}

package cached_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// goroutineID returns the calling goroutine's number, the first line of its stack trace.
func goroutineID() string {
	buf := make([]byte, 64)
	line, _, _ := strings.Cut(string(buf[:runtime.Stack(buf, false)]), " [")
	return line
}

// TestInlineRunsTheLoaderOnTheCallersGoroutine: a cancellable context marked Inline runs
// the flight on the caller's goroutine; unmarked, it runs on one of the Cache's.
func TestInlineRunsTheLoaderOnTheCallersGoroutine(t *testing.T) {
	c := newCache(t)
	var here bool
	caller := goroutineID()
	f := cached.NewFunc(c, "inline", func(ctx context.Context, k string) (string, error) {
		here = goroutineID() == caller
		return k, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := f.Get(cached.Inline(ctx), "a"); err != nil || !here {
		t.Fatalf("Inline: err %v, loader on the caller's goroutine = %v; want true", err, here)
	}
	if _, err := f.Get(ctx, "b"); err != nil || here {
		t.Fatalf("not Inline: err %v, loader on the caller's goroutine = %v; want false", err, here)
	}
}

// TestInlineJoinerLeavesOnItsOwnContext: a caller that joins an inline flight still
// leaves when its own context ends, and the flight still answers its leader.
func TestInlineJoinerLeavesOnItsOwnContext(t *testing.T) {
	c := newCache(t)
	started, release := make(chan struct{}), make(chan struct{})
	f := cached.NewFunc(c, "inline", func(ctx context.Context, k string) (string, error) {
		close(started)
		<-release
		return "v", nil
	})
	lead := make(chan error, 1)
	go func() {
		_, err := f.Get(cached.Inline(context.Background()), "k")
		lead <- err
	}()
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	joined := make(chan error, 1)
	go func() {
		_, err := f.Get(cached.Inline(ctx), "k")
		joined <- err
	}()
	cancel()
	if err := <-joined; !errors.Is(err, context.Canceled) {
		t.Fatalf("joiner = %v; want context.Canceled while the flight runs", err)
	}
	close(release)
	if err := <-lead; err != nil {
		t.Fatalf("leader = %v", err)
	}
}

// TestIsBackground: a loader sees IsBackground true only in a background refresh.
func TestIsBackground(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Minute), cached.Jitter(nil), cached.StaleWhileRevalidate(time.Hour))
		defer c.Close()
		seen := make(chan bool, 4)
		f := cached.NewFunc(c, "bg", func(ctx context.Context, k string) (string, error) {
			seen <- cached.IsBackground(ctx)
			return k, nil
		})
		ctx := context.Background()
		f.Get(ctx, "k")
		if <-seen {
			t.Fatal("first load reported as background")
		}
		time.Sleep(2 * time.Minute)
		f.Get(ctx, "k") // stale: served at once, refreshed in the background
		if !<-seen {
			t.Fatal("stale-while-revalidate refresh not reported as background")
		}
		f.Refresh(ctx, "k")
		if <-seen {
			t.Fatal("Refresh reported as background: its caller waits for it")
		}
	})
}

func TestCacheExposesPolicyAndBus(t *testing.T) {
	var bus cached.LocalBus
	p := staticPolicy{}
	c := newCache(t, cached.WithBus(&bus), cached.WithPolicy(p))
	if c.Bus() != cached.Bus(&bus) || c.Policy() != cached.Policy(p) {
		t.Fatalf("Bus, Policy = %v, %v; want the ones given to New", c.Bus(), c.Policy())
	}
	if d := newCache(t); d.Bus() != nil || d.Policy() != nil {
		t.Fatalf("defaults: Bus, Policy = %v, %v; want nil", d.Bus(), d.Policy())
	}
}

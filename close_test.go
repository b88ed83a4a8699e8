package cached_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cachedgo/cached"
)

// TestCloseCancelsAndWaits: Close cancels detached loads and background refreshes and
// waits for them; afterwards misses go straight to the loader.
func TestCloseCancelsAndWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.LoadTimeout(0))
		loaderSawCancel := make(chan error, 1)
		get := cached.Wrap(c, "x", func(ctx context.Context, k int) (int, error) {
			if k == 1 {
				<-ctx.Done()
				loaderSawCancel <- ctx.Err()
				return 0, ctx.Err()
			}
			return k, nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		go get(ctx, 1) // a detached load that only ends when cancelled
		synctest.Wait()
		cancel() // the caller left; the load goes on
		synctest.Wait()
		get(context.Background(), 2)

		if err := c.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		select {
		case err := <-loaderSawCancel:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("load context err = %v; want Canceled", err)
			}
		default:
			t.Fatalf("Close returned before the detached load ended")
		}
		if err := c.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if v, err := get(context.Background(), 2); v != 2 || err != nil {
			t.Errorf("hit after Close: got %d, %v", v, err)
		}
		if v, err := get(context.Background(), 3); v != 3 || err != nil {
			t.Errorf("miss after Close: got %d, %v; want the loader's answer", v, err)
		}
	})
}

func TestCloseStopsBackgroundRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := cached.New(cached.TTL(time.Minute), cached.Jitter(nil), cached.StaleWhileRevalidate(time.Hour))
		calls := 0
		get := cached.Wrap(c, "x", func(ctx context.Context, k int) (int, error) {
			calls++
			if calls > 1 {
				<-ctx.Done() // the refresh blocks until Close cancels it
				return 0, ctx.Err()
			}
			return 1, nil
		})
		get(context.Background(), 1)
		time.Sleep(2 * time.Minute)
		if v, _ := get(context.Background(), 1); v != 1 {
			t.Fatalf("stale read = %d; want 1", v)
		}
		synctest.Wait()
		c.Close() // returns only once the refresh has ended
		if calls != 2 {
			t.Errorf("loader calls = %d; want 2", calls)
		}
	})
}

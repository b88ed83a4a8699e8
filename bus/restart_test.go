package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/bus"
	"github.com/cachedgo/cached/internal/etcdtest"
)

// TestEtcdRestart: with etcd down, Publish fails within its Timeout and the watch shows
// as lost; once etcd is back the watch is re-established (counted), the failed publish
// shows as a gap, and later messages are delivered.
func TestEtcdRestart(t *testing.T) {
	s := etcdtest.Start(t)
	const timeout = 300 * time.Millisecond
	p := bus.Prefix(prefix(t))
	a, _ := newBus(t, s, p, bus.Timeout(timeout))
	b, _ := newBus(t, s, p, bus.Timeout(timeout))
	in := inbox(b)
	publish(t, a, cached.Message{Topic: "t", Key: "before"})
	next(t, in)

	s.Stop()
	start := time.Now()
	if err := a.Publish(context.Background(), cached.Message{Topic: "t", Key: "down"}); err == nil {
		t.Fatal("Publish with etcd down succeeded")
	}
	if d := time.Since(start); d > 3*timeout {
		t.Errorf("Publish with etcd down took %v; want about the Timeout, %v", d, timeout)
	}
	eventually(t, 10*time.Second, "b shows the watch lost", func() bool { return !b.Stats().Connected })

	s.Restart(t)
	eventually(t, 30*time.Second, "b reconnects", func() bool { st := b.Stats(); return st.Connected && st.Reconnects > 0 })
	// a's client may take a moment longer to redial: retry until a publish goes through.
	eventually(t, 30*time.Second, "a publishes again", func() bool {
		return a.Publish(context.Background(), cached.Message{Topic: "t", Key: "after"}) == nil
	})
	var sawResync bool
	for {
		m := next(t, in)
		if m.Topic == cached.TopicResync {
			sawResync = true
			continue
		}
		if m.Key == "after" {
			break
		}
		if m.Key != "down" { // a publish that failed may still have been written
			t.Errorf("got %+v; want the message published after the restart", m)
		}
	}
	if st := b.Stats(); !sawResync || st.Gaps == 0 {
		t.Errorf("resync seen %v, Gaps %d; want the failed publish reported as a gap", sawResync, st.Gaps)
	}
}

// TestPublishBoundedWhileEtcdDown: with etcd down, concurrent Publishes with a context
// without deadline queue behind one another for their turn; the wait shares the Timeout
// with the etcd requests, so each returns within about the Timeout, not n×Timeout.
func TestPublishBoundedWhileEtcdDown(t *testing.T) {
	s := etcdtest.Start(t)
	const timeout = 300 * time.Millisecond
	a, _ := newBus(t, s, bus.Prefix(prefix(t)), bus.Timeout(timeout))
	in := inbox(a)
	publish(t, a, cached.Message{Topic: "t", Key: "before"})
	next(t, in)

	s.Stop()
	const n = 8
	durs := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			start := time.Now()
			errs[i] = a.Publish(context.Background(), cached.Message{Topic: "t", Key: fmt.Sprint("down", i)})
			durs[i] = time.Since(start)
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] == nil {
			t.Errorf("Publish %d with etcd down succeeded", i)
		}
		if durs[i] > 3*timeout {
			t.Errorf("Publish %d with etcd down took %v; want about the Timeout, %v", i, durs[i], timeout)
		}
	}
	if got := a.Stats().PublishErrors; got != n {
		t.Errorf("PublishErrors %d; want %d", got, n)
	}
}

// TestSyncEventFailuresNotCounted: while etcd is down, the sync event a bus tries after
// its failed publish is neither counted as a publish error nor logged as a warning, and
// neither is one abandoned at Close: only the caller's failed publish is.
func TestSyncEventFailuresNotCounted(t *testing.T) {
	s := etcdtest.Start(t)
	logs := &recorder{}
	const timeout = 200 * time.Millisecond
	a, _ := newBus(t, s, bus.Prefix(prefix(t)), bus.Timeout(timeout), bus.Logger(slog.New(logs)))
	publish(t, a, cached.Message{Topic: "t", Key: "before"})

	s.Stop()
	if err := a.Publish(context.Background(), cached.Message{Topic: "t", Key: "down"}); err == nil {
		t.Fatal("Publish with etcd down succeeded")
	}
	// The watcher tries the sync event on its probe ticks until it notices that etcd is
	// silent.
	eventually(t, 10*time.Second, "a sync attempt", func() bool { return logs.count(slog.LevelDebug, "sync event") > 0 })
	a.Close()
	if st, warns := a.Stats(), logs.count(slog.LevelWarn, "publish failed"); st.PublishErrors != 1 || warns != 1 {
		t.Errorf("PublishErrors %d, %d warnings of a failed publish; want 1, 1", st.PublishErrors, warns)
	}
}

// recorder is a slog.Handler that keeps the level and message of every record.
type recorder struct {
	mu   sync.Mutex // protects recs
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec)
	return nil
}

// count returns how many records at level have a message containing msg.
func (r *recorder) count(level slog.Level, msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.recs {
		if rec.Level == level && strings.Contains(rec.Message, msg) {
			n++
		}
	}
	return n
}

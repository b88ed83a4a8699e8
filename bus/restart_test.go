package bus_test

import (
	"context"
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

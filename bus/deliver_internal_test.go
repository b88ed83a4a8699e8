package bus

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
)

// TestLossTracking drives the per-source tracking of one bus, "me", without etcd: each
// step is an event ("x3" is bus x's sequence number 3; "x3!" also reports that x's
// newest failed publish was a moment ago, the same moment for every "!", and "x3?" that
// it was an hour ago) or "compaction" (a resync of the
// watcher's own), and the test checks what the subscribers receive: "R" for a resync,
// the event's name otherwise.
func TestLossTracking(t *testing.T) {
	for _, c := range []struct {
		name, steps, want string
	}{
		{"in order", "x1 x2 y1 x3", "x1 x2 y1 x3"},
		{"gap", "x1 x3", "x1 R x3"},
		{"duplicate", "x1 x2 x2 x1", "x1 x2"},
		{"duplicate after a resync", "x1 compaction x1 x2", "x1 R x2"},
		{"gap covered by a compaction", "x1 compaction x5", "x1 R x5"},
		{"loss after a compaction", "x1 compaction x5!", "x1 R R x5!"},
		{"loss reported again after a compaction", "x1 x3! compaction x4!", "x1 R x3! R x4!"},
		{"one resync per loss", "x1 y1 x3! y3! x4! y4! x5! y5!", "x1 y1 R x3! R y3! x4! y4! x5! y5!"},
		{"new bus, recent loss", "z7!", "R z7!"},
		{"new bus, old loss", "z7?", "z7?"},
		{"own gap", "me1 me3! me4!", "me1 me3! me4!"},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := detached()
			recent := time.Now().UnixNano()
			var got []string
			b.Subscribe(func(m cached.Message) {
				if m.Topic == cached.TopicResync {
					got = append(got, "R")
				} else {
					got = append(got, m.Key)
				}
			})
			for i, step := range strings.Fields(c.steps) {
				if step == "compaction" {
					b.resync("compaction")
					continue
				}
				name := strings.TrimRight(step, "!?")
				n := strings.IndexAny(name, "0123456789")
				id := name[:n]
				seq, err := strconv.ParseUint(name[n:], 10, 64)
				if err != nil {
					t.Fatalf("step %q: %v", step, err)
				}
				var lostAt int64
				switch {
				case strings.HasSuffix(step, "!"):
					lostAt = recent
				case strings.HasSuffix(step, "?"):
					lostAt = time.Now().Add(-time.Hour).UnixNano()
				}
				e := envelope{Bus: id, Seq: seq, Time: 1, LostAt: lostAt, Msg: cached.Message{Topic: "t", Key: step}}
				b.event([]byte(fmt.Sprintf("/p/%s/%016x", id, seq)), e.encode(), int64(i+1))
			}
			if g := strings.Join(got, " "); g != c.want {
				t.Errorf("steps %q delivered %q; want %q", c.steps, g, c.want)
			}
		})
	}
}

// detached returns a bus with the ID "me" whose watcher state is ready but that has no
// client and no watcher goroutine: only event and resync may be called.
func detached() *Etcd {
	b := &Etcd{id: "me", cfg: defaultConfig(), log: slog.New(slog.DiscardHandler)}
	b.cfg.prefix = "/p/"
	b.subs.Store(new([]sub))
	b.w.sources = make(map[string]source)
	b.w.since = time.Now()
	return b
}

package cached

import (
	"fmt"
	"time"
)

// count records an event.
func (f *Func[K, V]) count(s *settings, k EventKind) {
	f.stats.inc(k)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: k, Count: 1})
	}
}

// observe reports e to the Observer. An Observer that panics is a failing plug-in: the
// panic is logged, and the call it interrupted goes on (a flight must always end).
func (f *Func[K, V]) observe(s *settings, e Event) {
	defer func() {
		if p := recover(); p != nil {
			f.log(s, observerSlot, "observer_panic", "cached: observer panicked", fmt.Errorf("%v", p))
		}
	}()
	s.observer.Observe(e)
}

// reportEvictions hands the Observer the evictions counted since the last report, as one
// event whose Count says how many. The tier counts them under its own locks, where no user
// code may run, so they reach the Observer later, on the miss path.
func (f *Func[K, V]) reportEvictions(s *settings) {
	if s.observer == nil {
		return
	}
	n := f.stats.other[Eviction].Load()
	old := f.stats.evictionsSeen.Load()
	if old >= n || !f.stats.evictionsSeen.CompareAndSwap(old, n) {
		return
	}
	f.observe(s, Event{Func: f.name, Kind: Eviction, Count: n - old})
}

// fail records a plug-in failure and logs it, at most once a second per kind.
func (f *Func[K, V]) fail(s *settings, k EventKind, err error) {
	f.stats.inc(k)
	if s.observer != nil {
		f.observe(s, Event{Func: f.name, Kind: k, Err: err, Count: 1})
	}
	f.log(s, int(k), k.String(), "cached: plug-in failed", err)
}

// observerSlot is the logged slot of observer panics, after those of the event kinds.
const observerSlot = int(numKinds)

// log logs msg at most once a second per slot (an event kind, or observerSlot).
func (f *Func[K, V]) log(s *settings, slot int, event, msg string, err error) {
	if s.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := f.logged[slot].Load()
	if now-last < int64(time.Second) || !f.logged[slot].CompareAndSwap(last, now) {
		return
	}
	s.logger.Warn(msg, "func", f.name, "event", event, "err", err)
}

package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/cachedgo/cached"
)

// Target says what a purge applies to.
type Target struct {
	// URLs are absolute ("https://example.com/users/1?tab=2") or host-relative
	// ("/users/1") URLs. A URL with a query purges the responses to that query (its
	// parameters in any order); one without purges every query of the path. A
	// host-relative URL purges the path on every host.
	URLs []string
	// Tags purge every response whose Cache-Tag or Surrogate-Key header named one of them.
	Tags []string
	// Hard drops the responses instead of marking them stale. By default a purge is soft:
	// a purged response is served stale while one background request to its handler
	// replaces it, for its stale-while-revalidate window or PurgeGrace, whichever is
	// longer, so that purging a tag shared by many pages does not send every request for
	// them to the handlers at once (Souin #276).
	Hard bool
}

// Purge marks stale (or, with Target.Hard, drops) the responses t names, in this process
// and, when c has a Bus, on every instance that shares it. It applies to responses
// stored before the purge, wherever they are stored: each instance checks a response
// against the purges it has heard of when it serves it. The error, if any, is a malformed
// URL (nothing is purged) or wraps cached.ErrBus (this instance is purged, the others
// may not be).
func Purge(ctx context.Context, c *cached.Cache, t Target) error {
	if c == nil {
		return errors.New("middleware: Purge on a nil Cache")
	}
	return stateOf(c).purge(ctx, t)
}

// AdminHandler returns an HTTP handler that purges, for operators and deploy scripts:
// POST (or PURGE) with form or query values url=... and tag=..., each repeatable, and
// hard=true for a hard purge. It answers 204 when done, 400 for a malformed request,
// 403 when authorize says no, 405 for other methods and 502 when the Bus failed.
// authorize decides who may purge (a shared secret, an mTLS identity, a network); it is
// required, because an open purge endpoint lets anyone empty the cache. AdminHandler
// panics if c or authorize is nil.
func AdminHandler(c *cached.Cache, authorize func(*http.Request) bool) http.Handler {
	if c == nil || authorize == nil {
		panic("middleware: AdminHandler needs a Cache and an authorization check")
	}
	st := stateOf(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != "PURGE" {
			w.Header().Set("Allow", "POST, PURGE")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !authorize(r) {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		form, err := purgeForm(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		t := Target{URLs: form["url"], Tags: form["tag"], Hard: form.Get("hard") == "true"}
		if len(t.URLs)+len(t.Tags) == 0 {
			http.Error(w, "nothing to purge: give url= or tag=", http.StatusBadRequest)
			return
		}
		err = st.purge(r.Context(), t)
		switch {
		case errors.Is(err, cached.ErrBus):
			http.Error(w, err.Error(), http.StatusBadGateway)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// purgeForm reads the query and, for a form body, the body (for PURGE too, which
// ParseForm leaves alone).
func purgeForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	form, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if ct := r.Header.Get("Content-Type"); r.Body != nil && strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		body, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, err
		}
		for k, v := range body {
			form[k] = append(form[k], v...)
		}
	}
	return form, nil
}

// TopicPurge is the Bus topic of purges.
const TopicPurge = "cached/middleware/purge"

// state is what the middleware keeps per Cache: the purges heard of. Each purge is a
// record with its time; a response stored before a record that matches it is purged.
// Records are kept while a response stored before them could still be served (the
// longest life of a response seen), and at most maxRecords of them: past that the oldest
// are folded into floor, which purges every response stored before it.
type state struct {
	bus    cached.Bus
	id     string
	unsub  func()
	n      atomic.Int64 // records, so that a cache never purged checks nothing
	mu     sync.RWMutex
	tags   map[string]record
	paths  map[string][]pathRecord // by host and path; host "" is every host
	floor  record
	life   atomic.Int64 // the longest life of a response stored, in ns
	maxRec int
}

type record struct {
	at   int64 // unix ns
	hard bool
}

type pathRecord struct {
	query string // "" for every query
	anyQ  bool
	record
}

const maxRecords = 1 << 16

var registry sync.Map // weak.Pointer[cached.Cache] -> *state

// stateOf returns c's state, creating it on first use. It lives as long as c does.
func stateOf(c *cached.Cache) *state {
	wp := weak.Make(c)
	if s, ok := registry.Load(wp); ok {
		return s.(*state)
	}
	s := &state{bus: c.Bus(), id: c.ID(), tags: map[string]record{}, paths: map[string][]pathRecord{}, maxRec: maxRecords}
	if v, loaded := registry.LoadOrStore(wp, s); loaded {
		return v.(*state)
	}
	if s.bus != nil {
		s.unsub = s.bus.Subscribe(s.deliver)
	}
	runtime.AddCleanup(c, func(s *state) {
		registry.Delete(wp)
		if s.unsub != nil {
			s.unsub()
		}
	}, s)
	return s
}

type purgeMessage struct {
	URLs []string `json:"urls,omitempty"`
	Tags []string `json:"tags,omitempty"`
	Hard bool     `json:"hard,omitempty"`
	At   int64    `json:"at"`
}

func (s *state) purge(ctx context.Context, t Target) error {
	paths := make([]pathRecord, 0, len(t.URLs))
	keys := make([]string, 0, len(t.URLs))
	for _, raw := range t.URLs {
		k, pr, err := parsePurgeURL(raw)
		if err != nil {
			return err
		}
		keys, paths = append(keys, k), append(paths, pr)
	}
	at := time.Now().UnixNano()
	s.apply(keys, paths, t.Tags, record{at: at, hard: t.Hard})
	if s.bus == nil {
		return nil
	}
	data, _ := json.Marshal(purgeMessage{URLs: t.URLs, Tags: t.Tags, Hard: t.Hard, At: at})
	if err := s.bus.Publish(ctx, cached.Message{Topic: TopicPurge, Source: s.id, Data: data}); err != nil {
		return fmt.Errorf("%w: purge: %w", cached.ErrBus, err)
	}
	return nil
}

// deliver applies another instance's purge. Its time is the later of the sender's and
// this instance's clock, so that a response stored here just before the message arrived
// is purged even when the sender's clock is behind.
func (s *state) deliver(m cached.Message) {
	if m.Topic != TopicPurge || m.Source == s.id {
		return
	}
	var pm purgeMessage
	if json.Unmarshal(m.Data, &pm) != nil {
		return
	}
	var keys []string
	var paths []pathRecord
	for _, raw := range pm.URLs {
		if k, pr, err := parsePurgeURL(raw); err == nil {
			keys, paths = append(keys, k), append(paths, pr)
		}
	}
	s.apply(keys, paths, pm.Tags, record{at: max(pm.At, time.Now().UnixNano()), hard: pm.Hard})
}

// parsePurgeURL returns the path key (host and escaped path) and the query part of a purge.
func parsePurgeURL(raw string) (string, pathRecord, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", pathRecord{}, fmt.Errorf("middleware: purge URL %q: %w", raw, err)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	q, err := normalQuery(u.RawQuery)
	if err != nil {
		return "", pathRecord{}, fmt.Errorf("middleware: purge URL %q: %w", raw, err)
	}
	return strings.ToLower(u.Host) + u.EscapedPath(), pathRecord{query: q, anyQ: u.RawQuery == ""}, nil
}

func (s *state) apply(keys []string, paths []pathRecord, tags []string, rec record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, k := range keys {
		p := paths[i]
		p.record = rec
		list := s.paths[k]
		replaced := false
		for j := range list {
			if list[j].anyQ == p.anyQ && list[j].query == p.query {
				list[j], replaced = p, true
			}
		}
		if !replaced {
			list = append(list, p)
		}
		s.paths[k] = list
	}
	for _, t := range tags {
		s.tags[t] = rec
	}
	s.prune(rec.at)
}

// prune drops the records no stored response can be older than, then folds the oldest
// into floor while there are too many. s.mu is held.
func (s *state) prune(now int64) {
	// At least a day: an instance that serves responses other instances stored has not
	// seen how long they live.
	horizon := now - max(s.life.Load(), int64(24*time.Hour))
	count := len(s.tags)
	for k, list := range s.paths {
		kept := list[:0]
		for _, p := range list {
			if p.at >= horizon {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			delete(s.paths, k)
		} else {
			s.paths[k] = kept
		}
		count += len(kept)
	}
	for k, r := range s.tags {
		if r.at < horizon {
			delete(s.tags, k)
			count--
		}
	}
	for count > s.maxRec {
		// Fold the older half into floor: every response stored before the newest of
		// them is purged, which purges more than asked, never less.
		cut := s.median()
		for k, r := range s.tags {
			if r.at <= cut {
				s.fold(r)
				delete(s.tags, k)
				count--
			}
		}
		for k, list := range s.paths {
			kept := list[:0]
			for _, p := range list {
				if p.at <= cut {
					s.fold(p.record)
					count--
				} else {
					kept = append(kept, p)
				}
			}
			if len(kept) == 0 {
				delete(s.paths, k)
			} else {
				s.paths[k] = kept
			}
		}
	}
	if s.floor.at != 0 {
		count++
	}
	s.n.Store(int64(count))
}

func (s *state) fold(r record) {
	s.floor.at = max(s.floor.at, r.at)
	s.floor.hard = s.floor.hard || r.hard
}

// median is a time that half the records are at or before.
func (s *state) median() int64 {
	var ats []int64
	for _, r := range s.tags {
		ats = append(ats, r.at)
	}
	for _, list := range s.paths {
		for _, p := range list {
			ats = append(ats, p.at)
		}
	}
	// Selection is enough, but folding is rare: sort.
	slices.Sort(ats)
	return ats[len(ats)/2]
}

// noteLife records how long a stored response may be served, so that records are kept
// at least that long.
func (s *state) noteLife(d time.Duration) {
	for {
		cur := s.life.Load()
		if int64(d) <= cur || s.life.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// purged reports whether a record purges resp, served for target t: the newest such
// record, hard if any of them is.
func (s *state) purged(resp *response, t target) (record, bool) {
	if s.n.Load() == 0 {
		return record{}, false
	}
	stored := resp.received.UnixNano()
	var hit record
	consider := func(r record) {
		if r.at > stored {
			hit.at = max(hit.at, r.at)
			hit.hard = hit.hard || r.hard
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	consider(s.floor)
	for _, k := range [2]string{t.host + t.path, t.path} {
		for _, p := range s.paths[k] {
			if p.anyQ || p.query == t.query || p.query == t.fullQuery() {
				consider(p.record)
			}
		}
	}
	for _, tag := range resp.tags {
		if r, ok := s.tags[tag]; ok {
			consider(r)
		}
	}
	return hit, hit.at != 0
}

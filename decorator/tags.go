package decorator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/jitter"
)

// TagFunc is the name under which a Cache keeps its tag records: a cached function of
// its own, so the records live in the Store and travel on the Bus as other entries do. A
// Policy sees it under this name.
const TagFunc = "cached.tags"

// TagLife is how long a tag invalidation is remembered. A tagged value stored before the
// invalidation must be gone by then: keep TTL plus the stale windows of tagged functions
// below it.
const TagLife = 24 * time.Hour

// TopicTags is the Bus topic of tag invalidations: every instance on the Bus learns them
// as they happen, with or without a Store.
const TopicTags = "decorator/tags"

// Tags are the tag invalidations of one Cache. A tag names an entity ("user:42") that
// values of several functions depend on (a user by id and by email); invalidating the tag
// invalidates them all at once, without knowing their keys. Each tagged value records when
// its load started; a value whose tags were invalidated since is treated as a miss and
// loaded again. Get one with [TagsOf].
//
// An invalidation is kept three ways: in a map of this process (for TagLife), published
// on the Cache's Bus to the same map of every instance, and written to the Store as the
// record of the function [TagFunc], for instances that start later.
type Tags struct {
	rec *cached.Func[string, int64]
	bus cached.Bus
	id  string
	// known holds the invalidations made by this process or heard on the Bus (tag → unix
	// nanoseconds), so that they hold even when the record is evicted, lost to a race in
	// the Store, or the Store fails. Pruned after TagLife.
	known     sync.Map
	lastPrune atomic.Int64
}

// registry maps a Cache to its Tags, both weakly: a Cache and its Tags are collected once
// no decorator uses them.
var registry sync.Map // weak.Pointer[cached.Cache] -> weak.Pointer[Tags]

// TagsOf returns the tag records of c, shared by every decorator of c.
func TagsOf(c *cached.Cache) *Tags {
	wc := weak.Make(c)
	for {
		v, ok := registry.Load(wc)
		if ok {
			if t := v.(weak.Pointer[Tags]).Value(); t != nil {
				return t
			}
		}
		t := newTags(c)
		wt := weak.Make(t)
		if ok {
			if !registry.CompareAndSwap(wc, v, wt) {
				continue
			}
		} else if _, loaded := registry.LoadOrStore(wc, wt); loaded {
			continue
		}
		runtime.AddCleanup(c, func(struct{}) { registry.CompareAndDelete(wc, wt) }, struct{}{})
		return t
	}
}

func newTags(c *cached.Cache) *Tags {
	t := &Tags{bus: c.Bus(), id: c.ID()}
	t.rec = cached.NewFunc(c, TagFunc, func(context.Context, string) (int64, error) {
		return 0, nil // no record in the Store: not invalidated within TagLife, as far as it knows
	},
		cached.TTL(TagLife), cached.Jitter(jitter.None()),
		cached.StaleWhileRevalidate(0), cached.StaleIfError(0), cached.EarlyRefresh(0),
		// A record that cannot be read is an error, never "not invalidated".
		cached.OnFailure(cached.FailClosed),
		// A Guard of the Cache knows values' keys, not tags: it must not rule records out.
		cached.WithGuard(nil),
		cached.LocalSize(1<<16),
	)
	if t.bus != nil {
		// The subscription holds the Tags weakly: it must not keep them, and through
		// them the Cache, alive as long as the Bus lives.
		wt, id := weak.Make(t), t.id
		unsub := t.bus.Subscribe(func(m cached.Message) {
			if m.Topic != TopicTags || m.Source == id {
				return
			}
			if t := wt.Value(); t != nil {
				at, tag, ok := strings.Cut(string(m.Data), " ")
				if n, err := strconv.ParseInt(at, 10, 64); ok && err == nil {
					t.learn(tag, n)
				}
			}
		})
		runtime.AddCleanup(t, func(unsub func()) { unsub() }, unsub)
	}
	return t
}

// learn records that tag was invalidated at `at`, keeping the latest.
func (t *Tags) learn(tag string, at int64) int64 {
	for {
		prev, loaded := t.known.LoadOrStore(tag, at)
		if !loaded {
			return at
		}
		if prev.(int64) >= at || t.known.CompareAndSwap(tag, prev, at) {
			return max(prev.(int64), at)
		}
	}
}

// Invalidate invalidates the values tagged with any of tags, in every instance that
// shares the Cache's Bus or Store. Values loading when it is called are invalidated too:
// their loads started before it. The error, if any, wraps cached.ErrStore or
// cached.ErrBus: this process holds the invalidation whatever it says.
func (t *Tags) Invalidate(ctx context.Context, tags ...string) error {
	now := time.Now().UnixNano()
	var errs []error
	for _, tag := range tags {
		at := now
		if prev, ok := t.known.Load(tag); ok && prev.(int64) >= at {
			at = prev.(int64) + 1
		}
		at = t.learn(tag, at)
		if t.bus != nil {
			m := cached.Message{Topic: TopicTags, Source: t.id, Data: []byte(strconv.FormatInt(at, 10) + " " + tag)}
			if err := t.bus.Publish(ctx, m); err != nil {
				errs = append(errs, fmt.Errorf("%w: tags: %w", cached.ErrBus, err))
			}
		}
		if err := t.rec.Put(ctx, tag, at); err != nil {
			errs = append(errs, err)
		}
	}
	t.prune(now)
	return errors.Join(errs...)
}

// prune drops known records older than TagLife, at most once a minute.
func (t *Tags) prune(now int64) {
	last := t.lastPrune.Load()
	if now-last < int64(time.Minute) || !t.lastPrune.CompareAndSwap(last, now) {
		return
	}
	t.known.Range(func(k, v any) bool {
		if now-v.(int64) > int64(TagLife) {
			t.known.CompareAndDelete(k, v)
		}
		return true
	})
}

// since returns when tag was last invalidated (unix nanoseconds, 0 when not within
// TagLife).
func (t *Tags) since(ctx context.Context, tag string) (int64, error) {
	at, err := t.rec.Get(ctx, tag)
	if known, ok := t.known.Load(tag); ok && known.(int64) > at {
		return known.(int64), nil
	}
	return at, err
}

// valid reports whether a value loaded at `at` with tags is still valid.
func (t *Tags) valid(ctx context.Context, at int64, tags []string) bool {
	for _, tag := range tags {
		inv, err := t.since(ctx, tag)
		if err != nil || inv >= at {
			return false
		}
	}
	return true
}

// Tagged is a value stored with the tags it was loaded under. Its fields are exported for
// the Cache's Codec.
type Tagged[V any] struct {
	Value V        `json:"v"`
	At    int64    `json:"at"`   // when its load started, unix nanoseconds
	Tags  []string `json:"tags"` // the tags it depends on
}

// UnmarshalJSON decodes a Tagged written by MarshalJSON and refuses anything else: a value
// stored under the same key without the envelope (by an instance from before the function
// was tagged) must be a miss, not an empty value with no tags.
func (t *Tagged[V]) UnmarshalJSON(b []byte) error {
	var env struct {
		Value V        `json:"v"`
		At    *int64   `json:"at"`
		Tags  []string `json:"tags"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if env.At == nil {
		return errors.New("decorator: not a tagged value")
	}
	t.Value, t.At, t.Tags = env.Value, *env.At, env.Tags
	return nil
}

// TaggedFunc is a cached function whose values are invalidated by key and by tag. Build one
// with [NewTaggedFunc]. It is safe for concurrent use.
type TaggedFunc[K comparable, V any] struct {
	f    *cached.Func[K, Tagged[V]]
	tags *Tags
	of   func(K, V) []string

	mu      sync.Mutex
	reloads map[K]*reload[V] // keys being loaded again after a tag invalidation
}

// NewTaggedFunc returns fn cached under name in c, as cached.NewFunc does, with each value
// tagged by tagsOf(key, value). A value is served only while none of its tags has been
// invalidated since its load started.
//
// NewTaggedFunc panics as cached.NewFunc does, and if tagsOf is nil.
func NewTaggedFunc[K comparable, V any](c *cached.Cache, name string, fn func(context.Context, K) (V, error), tagsOf func(K, V) []string, opts ...cached.Option) *TaggedFunc[K, V] {
	if fn == nil || tagsOf == nil {
		panic("decorator: NewTaggedFunc(" + name + "): nil function")
	}
	tf := &TaggedFunc[K, V]{tags: TagsOf(c), of: tagsOf, reloads: make(map[K]*reload[V])}
	tf.f = cached.NewFunc(c, name, func(ctx context.Context, k K) (Tagged[V], error) {
		at := time.Now().UnixNano()
		v, err := fn(ctx, k)
		if err != nil {
			return Tagged[V]{}, err
		}
		return Tagged[V]{Value: v, At: at, Tags: tagsOf(k, v)}, nil
	}, opts...)
	return tf
}

// Get returns the value for k, as cached.Func.Get does, loading it again when one of its
// tags was invalidated after its load started.
func (tf *TaggedFunc[K, V]) Get(ctx context.Context, k K) (V, error) {
	t, err := tf.f.Get(ctx, k)
	if err != nil {
		return t.Value, err
	}
	if tf.tags.valid(ctx, t.At, t.Tags) {
		return t.Value, nil
	}
	return tf.reload(ctx, k)
}

// reload loads k again after one of its tags was invalidated. Concurrent callers share one
// reload and its result: a hot key read by many callers right after a write is loaded once,
// not once per caller (Refresh alone would supersede each caller's load with the next
// one's).
func (tf *TaggedFunc[K, V]) reload(ctx context.Context, k K) (V, error) {
	tf.mu.Lock()
	if rl, ok := tf.reloads[k]; ok {
		tf.mu.Unlock()
		select {
		case <-rl.done:
		case <-ctx.Done():
			var zero V
			return zero, ctx.Err()
		}
		// Share the reload's answer unless the first caller left before it came, or
		// the tags were invalidated again after the reload started (a write that
		// returned before this call may be newer than what the reload read).
		shared := !errors.Is(rl.err, context.Canceled) && !errors.Is(rl.err, context.DeadlineExceeded)
		if shared && rl.err == nil {
			shared = tf.tags.valid(ctx, rl.start, tf.of(k, rl.val))
		}
		if shared {
			return rl.val, rl.err
		}
		t, err := tf.f.Refresh(ctx, k)
		return t.Value, err
	}
	rl := &reload[V]{done: make(chan struct{}), start: time.Now().UnixNano()}
	tf.reloads[k] = rl
	tf.mu.Unlock()
	t, err := tf.f.Refresh(ctx, k)
	rl.val, rl.err = t.Value, err
	tf.mu.Lock()
	delete(tf.reloads, k)
	tf.mu.Unlock()
	close(rl.done)
	return t.Value, err
}

// reload is a reload in progress; val and err are set before done is closed.
type reload[V any] struct {
	done  chan struct{}
	start int64 // unix nanoseconds, before the reload's load started
	val   V
	err   error
}

// Invalidate drops k's value, as cached.Func.Invalidate does.
func (tf *TaggedFunc[K, V]) Invalidate(ctx context.Context, k K) error {
	return tf.f.Invalidate(ctx, k)
}

// Put stores v as k's value, tagged as a load would tag it, as cached.Func.Put does.
func (tf *TaggedFunc[K, V]) Put(ctx context.Context, k K, v V) error {
	return tf.f.Put(ctx, k, Tagged[V]{Value: v, At: time.Now().UnixNano(), Tags: tf.of(k, v)})
}

// Batch returns a batch form of the function with fn as its batch loader, sharing its
// entries (see cached.Func.Batch). Values whose tags were invalidated are loaded again.
func (tf *TaggedFunc[K, V]) Batch(fn func(context.Context, []K) (map[K]V, error)) func(context.Context, []K) (map[K]V, error) {
	if fn == nil {
		panic("decorator: Batch(nil)")
	}
	batch := tf.f.Batch(func(ctx context.Context, keys []K) (map[K]Tagged[V], error) {
		at := time.Now().UnixNano()
		m, err := fn(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[K]Tagged[V], len(m))
		for k, v := range m {
			out[k] = Tagged[V]{Value: v, At: at, Tags: tf.of(k, v)}
		}
		return out, nil
	})
	return func(ctx context.Context, keys []K) (map[K]V, error) {
		m, err := batch(ctx, keys)
		if err != nil {
			return nil, err
		}
		out := make(map[K]V, len(m))
		var stale []K
		for k, t := range m {
			if tf.tags.valid(ctx, t.At, t.Tags) {
				out[k] = t.Value
			} else {
				stale = append(stale, k)
			}
		}
		if len(stale) == 0 {
			return out, nil
		}
		for _, k := range stale {
			// Drop the invalidated entries, then load them in one call.
			_ = tf.f.Invalidate(context.WithoutCancel(ctx), k)
		}
		again, err := batch(ctx, stale)
		if err != nil {
			return nil, err
		}
		for k, t := range again {
			out[k] = t.Value
		}
		return out, nil
	}
}

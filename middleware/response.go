package middleware

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachedgo/cached"
)

// response is a stored response: what the cache keeps of what a handler wrote, and what
// it decided about it when the handler wrote its header.
type response struct {
	status int
	header http.Header // hop-by-hop, Set-Cookie, Age and Cache-Status removed; slices clipped
	body   []byte

	received time.Time     // when the handler wrote its header (response_time)
	age      time.Duration // corrected_initial_age at received (RFC 9111 §4.2.3)
	ttl      time.Duration // freshness left at received; < 0: not to be stored
	swr, sie time.Duration // stale windows; < 0: none
	tags     []string      // Cache-Tag and Surrogate-Key values
	vary     []string      // canonical names of the request headers the response varies on
	varyKey  string        // the values of those headers in the request that produced it

	noCache    bool // stored, but every use is revalidated with the handler
	allowsAuth bool // public, s-maxage or must-revalidate: may answer a request with Authorization
	shareable  bool // may be given to collapsed requests other than the one that produced it

	// Not stored: set on the copy in this process.
	passed  bool   // the handler streamed it to its own request: nothing to serve
	seq     uint64 // its number among the route's responses produced in this process
	cl      []string
	fields  []field               // header, as a slice: a hit copies it without walking a map
	stamp   atomic.Pointer[stamp] // Age and Cache-Status lines of the current second
	purge   sync.Once             // a hard purge drops this entry once
	refresh atomic.Bool           // a soft purge refreshes this entry once
}

type field struct {
	name   string
	values []string
}

// stamp caches the per-second header lines of a response, so that a hit in the same
// second allocates none.
type stamp struct {
	sec    int64
	age    []string
	status []string
}

// fresh reports the response's remaining freshness at now: negative when stale.
func (r *response) fresh(now time.Time) time.Duration {
	return r.ttl - now.Sub(r.received)
}

// currentAge is current_age of RFC 9111 §4.2.3, in whole seconds.
func (r *response) currentAge(now time.Time) int64 {
	return int64((r.age + max(now.Sub(r.received), 0)) / time.Second)
}

// life is how long the response may be kept: its freshness plus the longest of its stale
// windows and the soft-purge grace.
func (r *response) life(grace time.Duration) time.Duration {
	return r.ttl + max(r.swr, r.sie, grace, 0)
}

// freshness tells the engine the response's own lifetime: every response carries an
// explicit one, so neither the Cache's default TTL nor its stale windows apply to HTTP.
func (r *response) freshness() cached.Freshness {
	if r == nil || r.ttl <= 0 {
		return cached.Freshness{TTL: -1}
	}
	f := cached.Freshness{TTL: r.ttl, StaleWhileRevalidate: r.swr, StaleIfError: r.sie}
	if f.StaleWhileRevalidate == 0 {
		f.StaleWhileRevalidate = -1
	}
	if f.StaleIfError == 0 {
		f.StaleIfError = -1
	}
	return f
}

// cost is the response's size in bytes, for the in-process tier's bound.
func (r *response) cost() uint32 {
	n := 256 + len(r.body) + len(r.varyKey)
	for k, vs := range r.header {
		n += len(k) + 16
		for _, v := range vs {
			n += len(v) + 16
		}
	}
	for _, t := range r.tags {
		n += len(t) + 16
	}
	return uint32(min(n, 1<<32-1))
}

// prepare finishes a response built in this process or decoded: clips the header slices
// (a downstream Header().Add then copies instead of writing into the stored array) and
// precomputes Content-Length.
func (r *response) prepare() *response {
	r.fields = r.fields[:0]
	for k, vs := range r.header {
		r.header[k] = slices.Clip(vs)
		r.fields = append(r.fields, field{k, r.header[k]})
	}
	r.cl = []string{strconv.Itoa(len(r.body))}
	return r
}

// The codec: responses go to a Store in a compact binary form, whatever Codec the Cache
// uses for other functions (JSON would not see unexported fields, and would base64 the
// body).
const codecVersion = 1

var errDecode = errors.New("middleware: malformed stored response")

type codec struct{}

func (codec) Marshal(v any) ([]byte, error) {
	r, ok := v.(*response)
	if !ok || r == nil {
		return nil, fmt.Errorf("middleware: cannot encode %T", v)
	}
	b := make([]byte, 0, 128+len(r.body))
	b = append(b, codecVersion)
	b = binary.AppendUvarint(b, uint64(r.status))
	b = binary.AppendVarint(b, r.received.UnixNano())
	b = binary.AppendVarint(b, int64(r.age))
	b = binary.AppendVarint(b, int64(r.ttl))
	b = binary.AppendVarint(b, int64(r.swr))
	b = binary.AppendVarint(b, int64(r.sie))
	var flags byte
	for i, f := range []bool{r.noCache, r.allowsAuth, r.shareable} {
		if f {
			flags |= 1 << i
		}
	}
	b = append(b, flags)
	b = appendString(b, r.varyKey)
	b = appendStrings(b, r.vary)
	b = appendStrings(b, r.tags)
	b = binary.AppendUvarint(b, uint64(len(r.header)))
	for _, k := range slices.Sorted(mapKeys(r.header)) {
		b = appendString(b, k)
		b = appendStrings(b, r.header[k])
	}
	b = appendString(b, string(r.body))
	return b, nil
}

func (codec) Unmarshal(data []byte, v any) error {
	p, ok := v.(**response)
	if !ok {
		return fmt.Errorf("middleware: cannot decode into %T", v)
	}
	d := decoder{b: data}
	if d.byte() != codecVersion {
		return errDecode
	}
	r := &response{status: int(d.uvarint())}
	r.received = time.Unix(0, d.varint())
	r.age = time.Duration(d.varint())
	r.ttl = time.Duration(d.varint())
	r.swr = time.Duration(d.varint())
	r.sie = time.Duration(d.varint())
	flags := d.byte()
	r.noCache, r.allowsAuth, r.shareable = flags&1 != 0, flags&2 != 0, flags&4 != 0
	r.varyKey = d.string()
	r.vary = d.strings()
	r.tags = d.strings()
	n := d.uvarint()
	if n > uint64(len(data)) {
		return errDecode
	}
	r.header = make(http.Header, n)
	for range n {
		k := d.string()
		r.header[k] = d.strings()
	}
	r.body = []byte(d.string())
	if d.err || len(d.b) != 0 || r.status < 100 || r.status > 999 {
		return errDecode
	}
	*p = r.prepare()
	return nil
}

func mapKeys(h http.Header) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range h {
			if !yield(k) {
				return
			}
		}
	}
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// decoder reads what Marshal wrote; any overrun sets err and yields zero values.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	var ss []string
	for range n {
		ss = append(ss, d.string())
	}
	return ss
}

package middleware

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// A key is the URL part, then the parts that depend on request headers:
//
//	host path [?query] \x00 vary-values \x00 extra
//
// host is lower-cased, path is the escaped path, query is the normalised query (every
// parameter, or only the kept ones, sorted by name). HEAD shares GET's keys: only GET
// responses are stored, so the method is not written. vary-values are the request's
// values of the headers the route's responses name in Vary; extra holds the KeyHeaders
// and the allowed cookies. A policy's key replaces the URL part.

// target is a request's URL as the cache sees it.
type target struct {
	host  string // lower-cased
	path  string // escaped
	query string // the normalised query as keyed (kept parameters only)
	raw   string // the request's raw query
	all   bool   // query holds every parameter
	ok    bool   // false: the query does not parse; the request is not cached
}

// fullQuery is the request's normalised query with every parameter, as purges name it.
func (t target) fullQuery() string {
	if t.all {
		return t.query
	}
	q, _ := normalQuery(t.raw)
	return q
}

func (h *handler) target(r *http.Request) target {
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	if hasUpper(host) {
		host = strings.ToLower(host)
	}
	t := target{host: host, path: r.URL.EscapedPath(), raw: r.URL.RawQuery, all: h.cfg.keepAll, ok: true}
	if r.URL.RawQuery == "" {
		return t
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return target{}
	}
	if !h.cfg.keepAll {
		for k := range q {
			if _, found := slices.BinarySearch(h.cfg.keepQuery, k); !found {
				delete(q, k)
			}
		}
	}
	t.query = q.Encode()
	return t
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
}

// normalQuery is a purge URL's query as keys hold it with every parameter kept.
func normalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "", err
	}
	return q.Encode(), nil
}

// appendVary appends the request's values of the named headers: what a response with
// Vary naming them was selected by (RFC 9111 §4.1). Values are joined as received.
func appendVary(b []byte, vary []string, r *http.Request) []byte {
	for _, name := range vary {
		b = append(b, name...)
		b = append(b, '=')
		for i, v := range r.Header[name] {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, strings.TrimSpace(v)...)
		}
		b = append(b, '\n')
	}
	return b
}

// appendExtra appends the KeyHeaders' and the allowed cookies' values.
func (h *handler) appendExtra(b []byte, r *http.Request) []byte {
	for _, name := range h.cfg.keyHeaders {
		b = append(b, name...)
		b = append(b, '=')
		b = append(b, strings.Join(r.Header[name], ",")...)
		b = append(b, '\n')
	}
	if len(h.cfg.cookies) > 0 && len(r.Header["Cookie"]) > 0 {
		for _, name := range h.cfg.cookies {
			if ck, err := r.Cookie(name); err == nil {
				b = append(b, "cookie:"...)
				b = append(b, name...)
				b = append(b, '=')
				b = append(b, ck.Value...)
				b = append(b, '\n')
			}
		}
	}
	return b
}

// varySpec reads a response's Vary header: the canonical names it lists, sorted and
// deduplicated, and whether it lists "*".
func varySpec(h http.Header) (names []string, star bool) {
	for _, line := range h["Vary"] {
		for f := range strings.SplitSeq(line, ",") {
			f = strings.TrimSpace(f)
			switch f {
			case "":
			case "*":
				star = true
			default:
				names = append(names, http.CanonicalHeaderKey(f))
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names), star
}

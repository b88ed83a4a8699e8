package middleware

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// directives are the Cache-Control directives of a response that a shared cache acts on
// (RFC 9111 §5.2.2, RFC 5861). A duration is -1 when the directive is absent.
type directives struct {
	noStore, noCache, private, public bool
	mustRevalidate                    bool // must-revalidate or proxy-revalidate
	sMaxAge, maxAge, swr, sie         time.Duration
	hasValidators                     bool // not a directive: ETag or Last-Modified is set
}

// parseDirectives reads every Cache-Control field line of h. Unknown directives are
// ignored, as RFC 9111 §5.2.3 requires. A malformed delta-seconds makes the directive
// count as present with value 0 (RFC 9111 §1.2.2: a cache treats an invalid one as
// stale), which is the safe reading.
func parseDirectives(h http.Header) directives {
	d := directives{sMaxAge: -1, maxAge: -1, swr: -1, sie: -1}
	for _, line := range h["Cache-Control"] {
		for line != "" {
			var part string
			part, line = nextDirective(line)
			name, value, _ := strings.Cut(part, "=")
			name = strings.ToLower(strings.TrimSpace(name))
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1]
			}
			switch name {
			case "no-store":
				d.noStore = true
			case "no-cache":
				// With field names (no-cache="Set-Cookie") it may be stored without them;
				// treating it as unqualified is the conservative reading.
				d.noCache = true
			case "private":
				d.private = true
			case "public":
				d.public = true
			case "must-revalidate", "proxy-revalidate":
				d.mustRevalidate = true
			case "s-maxage":
				d.sMaxAge = d.seconds(value)
			case "max-age":
				d.maxAge = d.seconds(value)
			case "stale-while-revalidate":
				d.swr = d.seconds(value)
			case "stale-if-error":
				d.sie = d.seconds(value)
			}
		}
	}
	d.hasValidators = h.Get("ETag") != "" || h.Get("Last-Modified") != ""
	return d
}

// nextDirective splits off the first comma-separated directive of s, respecting quoted
// strings (private="Set-Cookie, X-Foo" is one directive).
func nextDirective(s string) (part, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				return s[:i], s[i+1:]
			}
		}
	}
	return s, ""
}

// maxDelta caps delta-seconds as RFC 9111 §1.2.2 suggests (2^31 seconds, some 68 years).
const maxDelta = 1<<31 - 1

func (d *directives) seconds(v string) time.Duration {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(min(n, maxDelta)) * time.Second
}

// lifetime is the response's freshness lifetime for a shared cache (RFC 9111 §4.2.1):
// s-maxage, then max-age, then Expires minus Date; ok is false when none of them is
// there. An Expires that does not parse means already expired (§5.3).
func lifetime(d directives, h http.Header, received time.Time) (life time.Duration, ok bool) {
	switch {
	case d.sMaxAge >= 0:
		return d.sMaxAge, true
	case d.maxAge >= 0:
		return d.maxAge, true
	}
	exp, has := h["Expires"]
	if !has || len(exp) == 0 {
		return 0, false
	}
	expires, err := http.ParseTime(exp[0])
	if err != nil {
		return 0, true
	}
	date := received
	if v := h.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			date = t
		}
	}
	return max(expires.Sub(date), 0), true
}

// initialAge is corrected_initial_age of RFC 9111 §4.2.3 for a response the handler
// produced between requested and received: the larger of its apparent age (received
// minus its Date) and its Age header plus the time the handler took.
func initialAge(h http.Header, requested, received time.Time) time.Duration {
	var apparent time.Duration
	if v := h.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			apparent = max(received.Sub(t), 0)
		}
	}
	var ageValue time.Duration
	if v := h.Get("Age"); v != "" {
		if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n > 0 {
			ageValue = time.Duration(min(n, maxDelta)) * time.Second
		}
	}
	return max(apparent, ageValue+received.Sub(requested))
}

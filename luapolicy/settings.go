package luapolicy

import (
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/jitter"
	lua "github.com/yuin/gopher-lua"
)

// policy is one function's policy in one version: its static settings compiled to
// [cached.Rules], and which per-call functions it has.
type policy struct {
	idx     int    // index into each state's functions
	name    string // the function name, or "*" for the default
	sig     string // the static settings, canonical: equal sig and no functions means equal rules
	rules   *cached.Rules
	headers []string // canonical header names the request conversion exposes
	key     bool     // has a key function
	bypass  bool     // has a bypass function
	ttl     bool     // has a ttl function
	ex      []example
}

// settingNames are the fields a policy table may have.
var settingNames = []string{
	"ttl", "negative_ttl", "jitter", "stale_while_revalidate", "stale_if_error",
	"early_refresh", "lock", "bypass", "version", "local_ttl", "load_timeout",
	"key", "headers", "examples",
}

// parsePolicies validates the table a script returned and compiles its static settings.
func parsePolicies(s *script, ret *lua.LTable) ([]*policy, error) {
	var ps []*policy
	var err error
	ret.ForEach(func(k, v lua.LValue) {
		if err != nil {
			return
		}
		name, ok := k.(lua.LString)
		if !ok || name == "" {
			err = fmt.Errorf("%s: policies are keyed by function name (a non-empty string), got the %s key %s", s.name, k.Type(), k.String())
			return
		}
		t, ok := v.(*lua.LTable)
		if !ok {
			err = fmt.Errorf("%spolicy %q: want a table of settings, got %s", s.lines.at(s.name, string(name)), name, v.Type())
			return
		}
		var p *policy
		if p, err = parsePolicy(s, string(name), t); err == nil {
			ps = append(ps, p)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	slices.SortFunc(ps, func(a, b *policy) int { return strings.Compare(a.name, b.name) })
	for i, p := range ps {
		p.idx = i
	}
	return ps, nil
}

// setting reads one field of a policy table, with errors that say where it is.
type setting struct {
	s    *script
	name string // the policy
	t    *lua.LTable
}

func (st setting) errorf(field, format string, args ...any) error {
	return fmt.Errorf("%spolicy %q: %s: %s", st.s.lines.at(st.s.name, st.name+"."+field), st.name, field, fmt.Sprintf(format, args...))
}

func parsePolicy(s *script, name string, t *lua.LTable) (*policy, error) {
	st := setting{s, name, t}
	var err error
	t.ForEach(func(k, _ lua.LValue) {
		if f := lua.LVAsString(k); err == nil && !slices.Contains(settingNames, f) {
			err = fmt.Errorf("%spolicy %q: unknown setting %q%s", s.lines.at(s.name, name+"."+f), name, f, suggest(f, settingNames))
		}
	})
	if err != nil {
		return nil, err
	}
	p := &policy{name: name}
	var opts []cached.Option
	var sig strings.Builder
	dur := func(field string, positive bool, opt func(time.Duration) cached.Option) {
		v := t.RawGetString(field)
		if err != nil || v == lua.LNil {
			return
		}
		if _, ok := v.(*lua.LFunction); ok && field == "ttl" {
			p.ttl = true
			return
		}
		d, e := toDuration(v)
		if e == nil && positive && d == 0 {
			e = fmt.Errorf("must be positive (to turn caching off, use bypass = true)")
		}
		if e != nil {
			err = st.errorf(field, "%v", e)
			return
		}
		opts = append(opts, opt(d))
		fmt.Fprintf(&sig, "%s=%d;", field, d)
	}
	dur("ttl", true, cached.TTL)
	dur("negative_ttl", false, cached.NegativeTTL)
	dur("stale_while_revalidate", false, cached.StaleWhileRevalidate)
	dur("stale_if_error", false, cached.StaleIfError)
	dur("local_ttl", false, cached.LocalTTL)
	dur("load_timeout", false, cached.LoadTimeout)
	if err != nil {
		return nil, err
	}
	if v := t.RawGetString("jitter"); v != lua.LNil {
		j, e := toFraction(v)
		if e != nil {
			return nil, st.errorf("jitter", "%v", e)
		}
		opts = append(opts, cached.Jitter(jitter.Percent(j)))
		fmt.Fprintf(&sig, "jitter=%v;", j)
	}
	if v := t.RawGetString("early_refresh"); v != lua.LNil {
		n, ok := v.(lua.LNumber)
		if !ok || n < 0 || math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
			return nil, st.errorf("early_refresh", "want a number >= 0 (the XFetch beta; 1 is usual), got %s", v.String())
		}
		opts = append(opts, cached.EarlyRefresh(float64(n)))
		fmt.Fprintf(&sig, "beta=%v;", float64(n))
	}
	switch v := t.RawGetString("lock"); v {
	case lua.LNil, lua.LTrue:
	case lua.LFalse:
		opts = append(opts, cached.WithLocker(nil))
		sig.WriteString("nolock;")
	default:
		return nil, st.errorf("lock", "want true or false, got %s", v.Type())
	}
	bypass := false
	switch v := t.RawGetString("bypass").(type) {
	case *lua.LFunction:
		p.bypass = true
	case lua.LBool:
		bypass = bool(v)
	case *lua.LNilType:
	default:
		return nil, st.errorf("bypass", "want a boolean or a function(call), got %s", v.Type())
	}
	switch v := t.RawGetString("version").(type) {
	case lua.LString, lua.LNumber:
		opts = append(opts, cached.Version(lua.LVAsString(v)))
		fmt.Fprintf(&sig, "version=%q;", lua.LVAsString(v))
	case *lua.LNilType:
	default:
		return nil, st.errorf("version", "want a string, got %s", v.Type())
	}
	switch v := t.RawGetString("key").(type) {
	case *lua.LFunction:
		p.key = true
	case *lua.LNilType:
	default:
		return nil, st.errorf("key", "want a function(call), got %s", v.Type())
	}
	switch v := t.RawGetString("headers").(type) {
	case *lua.LTable:
		for i := 1; i <= v.Len(); i++ {
			h, ok := v.RawGetInt(i).(lua.LString)
			if !ok || h == "" {
				return nil, st.errorf("headers", "want a list of header names, got %s at %d", v.RawGetInt(i).Type(), i)
			}
			p.headers = append(p.headers, http.CanonicalHeaderKey(string(h)))
		}
	case *lua.LNilType:
	default:
		return nil, st.errorf("headers", "want a list of header names, got %s", v.Type())
	}
	ex, err := parseExamples(st, p)
	if err != nil {
		return nil, err
	}
	p.ex = ex
	p.sig = sig.String()
	p.rules = &cached.Rules{Options: opts, Bypass: bypass}
	return p, nil
}

// toDuration reads a duration: a number of seconds (3600, 0.25) or a Go duration string
// ("90s", "10m", "1h30m").
func toDuration(v lua.LValue) (time.Duration, error) {
	switch v := v.(type) {
	case lua.LNumber:
		f := float64(v)
		if math.IsNaN(f) || f < 0 {
			return 0, fmt.Errorf("want a duration >= 0, got %v seconds", f)
		}
		// The largest float64 below 2^63 ns: converting more overflows to a negative
		// Duration.
		if f*float64(time.Second) >= math.MaxInt64 {
			return 0, fmt.Errorf("want a duration under %v, got %v seconds", time.Duration(math.MaxInt64), f)
		}
		return time.Duration(f * float64(time.Second)), nil
	case lua.LString:
		d, err := time.ParseDuration(strings.TrimSpace(string(v)))
		if err != nil {
			if n, e := strconv.ParseFloat(strings.TrimSpace(string(v)), 64); e == nil {
				return toDuration(lua.LNumber(n))
			}
			return 0, fmt.Errorf("want a duration such as \"90s\" or \"10m\", got %q", string(v))
		}
		if d < 0 {
			return 0, fmt.Errorf("want a duration >= 0, got %q", string(v))
		}
		return d, nil
	default:
		return 0, fmt.Errorf("want a duration (seconds, or a string such as \"90s\"), got %s", v.Type())
	}
}

// toFraction reads a jitter: a fraction in [0, 1] (0.1) or a percentage ("10%").
func toFraction(v lua.LValue) (float64, error) {
	var f float64
	switch v := v.(type) {
	case lua.LNumber:
		f = float64(v)
	case lua.LString:
		s := strings.TrimSpace(string(v))
		n, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || !strings.HasSuffix(s, "%") {
			return 0, fmt.Errorf("want a fraction (0.1) or a percentage (\"10%%\"), got %q", s)
		}
		f = n / 100
	default:
		return 0, fmt.Errorf("want a fraction (0.1) or a percentage (\"10%%\"), got %s", v.Type())
	}
	if math.IsNaN(f) || f < 0 || f > 1 {
		return 0, fmt.Errorf("want a fraction between 0 and 1, got %v", f)
	}
	return f, nil
}

// suggest names the known setting closest to an unknown one, or lists them all.
func suggest(got string, known []string) string {
	best, dist := "", 3
	for _, k := range known {
		if d := editDistance(got, k); d < dist {
			best, dist = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known: " + strings.Join(known, ", ") + ")"
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

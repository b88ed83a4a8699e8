package gen

import (
	"go/ast"
	"go/token"
	"slices"
	"strconv"
	"strings"
	"time"
)

// annot is one //cached: line.
type annot struct {
	kind string // get, batch, evict, put, tags
	pos  token.Pos
	args map[string]string // key=value options
	tags []string          // the templates of a tags line
}

// The options each kind accepts.
var annotOptions = map[string][]string{
	"get":   {"name", "ttl", "key", "negative", "notfound"},
	"batch": {"name", "ttl", "negative", "notfound"},
	"evict": {"name", "key", "tags", "before"},
	"put":   {"name", "key", "value"},
	"tags":  nil,
}

const prefix = "//cached:"

// parseAnnots reads the //cached: lines of a method's doc comment.
func (g *generator) parseAnnots(doc *ast.CommentGroup) []*annot {
	var out []*annot
	for _, c := range doc.List {
		if !strings.HasPrefix(c.Text, prefix) {
			if strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(c.Text, "//")), "cached:") {
				g.errorf(c.Slash, "%q is not an annotation: write //cached:<kind> with no space after //", c.Text)
			}
			continue
		}
		line := strings.TrimPrefix(c.Text, prefix)
		kind, rest, _ := strings.Cut(line, " ")
		allowed, ok := annotOptions[kind]
		if !ok {
			g.errorf(c.Slash, "unknown annotation cached:%s (want get, batch, evict, put or tags)", kind)
			continue
		}
		a := &annot{kind: kind, pos: c.Slash, args: map[string]string{}}
		if kind == "tags" {
			a.tags = strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == '\t' || r == ',' })
			if len(a.tags) == 0 {
				g.errorf(c.Slash, "cached:tags names no tag")
				continue
			}
			out = append(out, a)
			continue
		}
		bad := false
		for _, f := range strings.Fields(rest) {
			k, v, ok := strings.Cut(f, "=")
			switch {
			case !ok || v == "":
				g.errorf(c.Slash, "cached:%s: %q is not key=value", kind, f)
				bad = true
			case !slices.Contains(allowed, k):
				g.errorf(c.Slash, "cached:%s: unknown option %q (want one of %s)", kind, k, strings.Join(allowed, ", "))
				bad = true
			case a.args[k] != "":
				g.errorf(c.Slash, "cached:%s: option %s given twice", kind, k)
				bad = true
			default:
				a.args[k] = v
			}
		}
		if !bad {
			out = append(out, a)
		}
	}
	return out
}

// duration parses a ttl= or negative= option.
func (g *generator) duration(a *annot, opt string) (time.Duration, bool) {
	s, ok := a.args[opt]
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		g.errorf(a.pos, "cached:%s: %s=%s is not a positive duration such as 10m or 1h30m", a.kind, opt, s)
		return 0, false
	}
	return d, true
}

// durationExpr writes d as Go source: 10*time.Minute, 90*time.Second.
func durationExpr(d time.Duration, timePkg string) string {
	units := []struct {
		d    time.Duration
		name string
	}{{time.Hour, "Hour"}, {time.Minute, "Minute"}, {time.Second, "Second"}, {time.Millisecond, "Millisecond"}, {time.Microsecond, "Microsecond"}}
	for _, u := range units {
		if d%u.d == 0 {
			n := int64(d / u.d)
			if n == 1 {
				return timePkg + "." + u.name
			}
			return itoa(n) + "*" + timePkg + "." + u.name
		}
	}
	return timePkg + ".Duration(" + itoa(int64(d)) + ")"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

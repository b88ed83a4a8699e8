package gen

import (
	"go/token"
	"go/types"
	"slices"
	"strings"
	"unicode"
)

// kind is how a cached function is built and called.
type kind int

const (
	kindFunc0     kind = iota // cached.Func0: no argument
	kindFunc                  // cached.Func or decorator.TaggedFunc: one key part
	kindFunc2                 // cached.Func2: two arguments
	kindComposite             // a generated key struct (or struct{}) as the key
)

// part is one part of a cache key.
type part struct {
	field string // the key struct's field (composite keys)
	typ   types.Type
}

// cachedFn is one cached function: a name, the get method that reads it and the batch
// methods that share it.
type cachedFn struct {
	name    string
	field   string
	pos     token.Pos
	get     *method
	batches []*method
	kind    kind
	parts   []part
	val     types.Type
	// keyExprs are the get's key= expressions; nil when the key is the arguments.
	keyExprs []value
	keyType  string // the composite key's type (a generated struct, or struct{})
	argsType string // the arguments' struct when keyExprs are set
	tagged   bool
	tags     []string // the tag expressions, in the tags closure's scope
	opts     []string // the annotation's options, as Go source
	// batchOnly: no get method reads it; its single-key loader is the batch's.
	batchOnly bool
	// nilGuard: the tags read fields of a result that may be nil; a nil result has none.
	nilGuard bool
}

// keyArgs renders the arguments that name k in a call of the function's methods, from the
// expressions of each key part.
func (f *cachedFn) keyArgs(exprs []string) string {
	switch f.kind {
	case kindFunc0:
		return ""
	case kindComposite:
		return ", " + f.keyType + "{" + strings.Join(exprs, ", ") + "}"
	}
	return ", " + strings.Join(exprs, ", ")
}

// write is an eviction or a put after (or before) a write method's call.
type write struct {
	before bool
	stmt   string    // the Go statement, without the error report
	loop   string    // for a slice key: "for _, k := range ids {", closed after stmt
	fn     *cachedFn // nil for tags
	put    bool
}

func (g *generator) check() {
	g.byName = map[string]*cachedFn{}
	g.im = newImports(g.pkg.Types)
	// Parameters are in scope wherever generated code names an import: no import may
	// take a parameter's name.
	for _, m := range g.methods {
		for _, p := range m.params {
			g.im.reserve(p.name)
		}
	}
	// Reads first, so that writes can name any function of the interface.
	for _, m := range g.methods {
		g.classify(m)
	}
	for _, f := range g.fns {
		g.buildFn(f)
	}
	if len(g.errs) > 0 {
		return
	}
	g.nameFields()
	g.recv = g.receiver()
	for _, m := range g.methods {
		g.checkWrites(m)
	}
}

// classify sorts a method's annotations and registers its cached function.
func (g *generator) classify(m *method) {
	var reads, writes, tags []*annot
	for _, a := range m.annots {
		switch a.kind {
		case "get", "batch":
			reads = append(reads, a)
		case "evict", "put":
			writes = append(writes, a)
		case "tags":
			tags = append(tags, a)
		}
	}
	if len(reads) > 1 {
		g.errorf(reads[1].pos, "%s has a second cached:%s: a method is one cached read", m.name, reads[1].kind)
		return
	}
	if len(reads) == 1 && len(writes) > 0 {
		g.errorf(writes[0].pos, "%s is a cached read (cached:%s): it cannot also be a write (cached:%s)", m.name, reads[0].kind, writes[0].kind)
		return
	}
	if len(tags) > 0 && len(reads) == 0 {
		g.errorf(tags[0].pos, "cached:tags belongs on a cached:get or cached:batch method")
		return
	}
	if len(reads) == 0 {
		return
	}
	a := reads[0]
	m.read = a
	name := a.args["name"]
	if name == "" {
		name = m.name
	}
	if strings.ContainsFunc(name, unicode.IsSpace) {
		g.errorf(a.pos, "cached:%s: name %q has spaces", a.kind, name)
		return
	}
	f := g.byName[name]
	if f == nil {
		f = &cachedFn{name: name, pos: a.pos}
		g.byName[name] = f
		g.fns = append(g.fns, f)
	}
	m.fn = f
	if a.kind == "get" {
		if f.get != nil {
			g.errorf(a.pos, "cached:get name=%s: %s already reads %s (%s); give this one another name", name, f.get.name, name, g.position(f.get.read.pos))
			return
		}
		f.get = m
	} else {
		f.batches = append(f.batches, m)
	}
	if len(tags) > 0 {
		f.tagged = true
	}
}

// buildFn checks the shape of a function's methods and works out its key and value.
func (g *generator) buildFn(f *cachedFn) {
	if f.get != nil {
		g.buildGet(f)
	} else {
		f.batchOnly = true
		g.buildBatchOnly(f)
	}
	if len(g.errs) > 0 {
		return
	}
	for _, b := range f.batches {
		if f.batchOnly && b == f.batches[0] {
			continue // it defined f's shape
		}
		g.checkBatch(f, b)
	}
	g.options(f)
	g.tagsOf(f)
}

func (g *generator) buildGet(f *cachedFn) {
	m, a := f.get, f.get.read
	if !m.hasCtx {
		g.errorf(a.pos, "cached:get: %s cannot be cached: its first parameter must be a context.Context", m.name)
		return
	}
	if len(m.results) != 2 || !m.errLast {
		g.errorf(a.pos, "cached:get: %s cannot be cached: it must return (value, error)", m.name)
		return
	}
	f.val = m.results[0]
	if keys, ok := a.args["key"]; ok {
		sc := scope{}
		for _, p := range m.args() {
			sc[p.name] = scoped{typ: p.typ, src: p.name}
		}
		for _, k := range strings.Split(keys, ",") {
			v, ok := g.expr(a, "key", k, sc)
			if !ok {
				return
			}
			if why := unkeyable(v.typ); why != "" {
				g.errorf(a.pos, "cached:get: key %s of type %s %s", k, g.typeString(v.typ), why)
				return
			}
			v.typ = types.Default(v.typ) // a literal's key part has the literal's default type
			f.keyExprs = append(f.keyExprs, v)
			f.parts = append(f.parts, part{field: fieldFor(k, f.parts), typ: v.typ})
		}
		f.argsType = g.typeIdent(m.name + "Args")
		if len(f.parts) == 1 {
			f.kind = kindFunc
		} else {
			f.kind = kindComposite
			f.keyType = g.typeIdent(m.name + "Key")
		}
		return
	}
	args := m.args()
	if m.variadic {
		g.errorf(a.pos, "cached:get: %s is variadic: a slice cannot be a key; give key= naming what identifies the call", m.name)
		return
	}
	for _, p := range args {
		if why := unkeyable(p.typ); why != "" {
			g.errorf(a.pos, "cached:get: %s cannot be cached by its arguments: %s of type %s %s", m.name, p.name, g.typeString(p.typ), why)
			return
		}
		f.parts = append(f.parts, part{field: p.name, typ: p.typ})
	}
	switch {
	case len(args) == 0 && !f.tagged:
		f.kind = kindFunc0
	case len(args) == 0:
		f.kind, f.keyType = kindComposite, "struct{}"
	case len(args) == 1:
		f.kind = kindFunc
	case len(args) == 2 && !f.tagged:
		f.kind = kindFunc2
	default:
		f.kind, f.keyType = kindComposite, g.typeIdent(m.name+"Key")
	}
}

// batchShape checks a batch method's shape and returns its key and value types.
func (g *generator) batchShape(m *method) (k, v types.Type, ok bool) {
	a := m.read
	fail := func() (types.Type, types.Type, bool) {
		g.errorf(a.pos, "cached:batch: %s cannot be batched: want func(context.Context, []K) (map[K]V, error)", m.name)
		return nil, nil, false
	}
	if !m.hasCtx || len(m.args()) != 1 || m.variadic || len(m.results) != 2 || !m.errLast {
		return fail()
	}
	sl, ok1 := m.args()[0].typ.Underlying().(*types.Slice)
	mp, ok2 := m.results[0].Underlying().(*types.Map)
	if !ok1 || !ok2 || !types.Identical(sl.Elem(), mp.Key()) {
		return fail()
	}
	if why := unkeyable(sl.Elem()); why != "" {
		g.errorf(a.pos, "cached:batch: %s: key type %s %s", m.name, g.typeString(sl.Elem()), why)
		return nil, nil, false
	}
	return sl.Elem(), mp.Elem(), true
}

func (g *generator) buildBatchOnly(f *cachedFn) {
	k, v, ok := g.batchShape(f.batches[0])
	if !ok {
		return
	}
	f.kind, f.val = kindFunc, v
	f.parts = []part{{field: "key", typ: k}}
}

// checkBatch checks a batch method that shares f.
func (g *generator) checkBatch(f *cachedFn, b *method) {
	k, v, ok := g.batchShape(b)
	if !ok {
		return
	}
	if f.kind != kindFunc || f.keyExprs != nil || !types.Identical(f.parts[0].typ, k) || !types.Identical(f.val, v) {
		reader := "the batch method " + f.batches[0].name
		if f.get != nil {
			reader = "the get method " + f.get.name
		}
		g.errorf(b.read.pos, "cached:batch name=%s: %s reads %s by %s; a batch of %s shares a function of one argument of type %s giving %s",
			f.name, reader, f.name, g.describeKey(f), b.name, g.typeString(k), g.typeString(v))
	}
}

func (g *generator) describeKey(f *cachedFn) string {
	if f.keyExprs != nil {
		return "key expressions"
	}
	var ts []string
	for _, p := range f.parts {
		ts = append(ts, g.typeString(p.typ))
	}
	return "(" + strings.Join(ts, ", ") + ") giving " + g.typeString(f.val)
}

// options renders the annotations' ttl, negative and notfound options.
func (g *generator) options(f *cachedFn) {
	seen := map[string]string{}
	var readers []*method
	if f.get != nil {
		readers = append(readers, f.get)
	}
	readers = append(readers, f.batches...)
	for _, m := range readers {
		a := m.read
		for _, opt := range []string{"ttl", "negative", "notfound"} {
			v, ok := a.args[opt]
			if !ok {
				continue
			}
			if prev, ok := seen[opt]; ok {
				if prev != v {
					g.errorf(a.pos, "cached:%s: %s=%s, but another method of %s says %s=%s", a.kind, opt, v, f.name, opt, prev)
				}
				continue
			}
			seen[opt] = v
			switch opt {
			case "ttl":
				if d, ok := g.duration(a, opt); ok {
					f.opts = append(f.opts, g.im.name("github.com/cachedgo/cached", "cached")+".TTL("+durationExpr(d, g.im.name("time", "time"))+")")
				}
			case "negative":
				if d, ok := g.duration(a, opt); ok {
					f.opts = append(f.opts, g.im.name("github.com/cachedgo/cached", "cached")+".NegativeTTL("+durationExpr(d, g.im.name("time", "time"))+")")
				}
			case "notfound":
				if ref, ok := g.errorVar(a, v); ok {
					c, e := g.im.name("github.com/cachedgo/cached", "cached"), g.im.name("errors", "errors")
					f.opts = append(f.opts,
						c+".NotFound(func(err error) bool { return "+e+".Is(err, "+ref+") })",
						c+".NotFoundError("+ref+")")
				}
			}
		}
	}
}

// errorVar resolves notfound=ErrX or notfound=pkg.ErrX to a package-level error variable.
func (g *generator) errorVar(a *annot, ref string) (string, bool) {
	pkgName, name, qualified := strings.Cut(ref, ".")
	scope, path := g.pkg.Types.Scope(), ""
	if !qualified {
		name = pkgName
	} else {
		for _, imp := range g.file.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			ip := g.pkg.Imports[p]
			if ip == nil || ip.Types == nil {
				continue
			}
			local := ip.Types.Name()
			if imp.Name != nil {
				local = imp.Name.Name
			}
			if local == pkgName {
				scope, path = ip.Types.Scope(), p
				break
			}
		}
		if path == "" {
			g.errorf(a.pos, "cached:%s: notfound=%s: the file declaring %s does not import %s", a.kind, ref, g.typeName, pkgName)
			return "", false
		}
	}
	obj, ok := scope.Lookup(name).(*types.Var)
	if !ok || (qualified && !obj.Exported()) || !types.Implements(obj.Type(), types.Universe.Lookup("error").Type().Underlying().(*types.Interface)) {
		g.errorf(a.pos, "cached:%s: notfound=%s is not a package-level error variable", a.kind, ref)
		return "", false
	}
	if path == "" {
		return name, true
	}
	return g.im.name(path, obj.Pkg().Name()) + "." + name, true
}

// tagsOf checks the tags of f's readers and renders them in the tags closure's scope.
func (g *generator) tagsOf(f *cachedFn) {
	var m *method
	var tags []*annot
	for _, r := range append([]*method{f.get}, f.batches...) {
		if r == nil {
			continue
		}
		for _, a := range r.annots {
			if a.kind != "tags" {
				continue
			}
			if f.get != nil && r != f.get {
				g.errorf(a.pos, "cached:tags: the tags of %s are set on its get method %s", f.name, f.get.name)
				return
			}
			m = r
			tags = append(tags, a)
		}
	}
	if len(tags) == 0 {
		return
	}
	sc := scope{"result": {typ: f.val, src: "result"}}
	switch {
	case f.batchOnly:
		sc["key"] = scoped{typ: f.parts[0].typ, src: "key"}
	case f.keyExprs != nil:
		// The key holds the expressions' values, not the arguments.
	case f.kind == kindFunc:
		p := m.args()[0]
		sc[p.name] = scoped{typ: p.typ, src: p.name}
	default:
		for _, p := range m.args() {
			sc[p.name] = scoped{typ: p.typ, src: "k." + p.name}
		}
	}
	if _, clash := m.param("result"); clash && !f.batchOnly {
		g.errorf(tags[0].pos, "cached:tags: %s has a parameter named result, which the tags would confuse with its result; rename it", m.name)
		return
	}
	dec := g.im.name("github.com/cachedgo/cached/decorator", "decorator")
	for _, a := range tags {
		for _, t := range a.tags {
			if src, roots, ok := g.template(a, t, sc, dec); ok {
				f.tags = append(f.tags, src)
				if slices.Contains(roots, "result") && nilable(f.val) {
					f.nilGuard = true
				}
			}
		}
	}
	g.tagged = true
}

// checkWrites checks a write method's evict and put annotations.
func (g *generator) checkWrites(m *method) {
	var ws []*annot
	for _, a := range m.annots {
		if a.kind == "evict" || a.kind == "put" {
			ws = append(ws, a)
		}
	}
	if len(ws) == 0 {
		return
	}
	if !m.hasCtx {
		g.errorf(ws[0].pos, "cached:%s: %s must take a context.Context first: the cache writes after it use its values", ws[0].kind, m.name)
		return
	}
	g.resultNames(m)
	for _, a := range ws {
		before := false
		switch a.args["before"] {
		case "", "false":
		case "true":
			before = true
		default:
			g.errorf(a.pos, "cached:evict: before=%s: want true or false", a.args["before"])
			continue
		}
		sc := scope{}
		if !before && len(m.results) > 0 && !(len(m.results) == 1 && m.errLast) {
			sc["result"] = scoped{typ: m.results[0], src: m.resultVars[0]}
		}
		for _, p := range m.args() {
			sc[p.name] = scoped{typ: p.typ, src: p.name}
		}
		if a.kind == "evict" {
			g.evict(m, a, sc, before)
		} else {
			g.put(m, a, sc)
		}
	}
}

// target resolves name= of a write.
func (g *generator) target(a *annot) *cachedFn {
	name := a.args["name"]
	f := g.byName[name]
	if f == nil {
		names := slices.Sorted(func(yield func(string) bool) {
			for n := range g.byName {
				if !yield(n) {
					return
				}
			}
		})
		if len(names) == 0 {
			g.errorf(a.pos, "cached:%s: unknown name %q: %s has no cached:get or cached:batch method", a.kind, name, g.typeName)
		} else {
			g.errorf(a.pos, "cached:%s: unknown name %q (the cached functions of %s are %s)", a.kind, name, g.typeName, strings.Join(names, ", "))
		}
	}
	return f
}

// keyExprs checks key= of a write against f's key parts. slice reports a single
// expression that is a slice of f's key (evict each).
func (g *generator) keyExprs(a *annot, f *cachedFn, sc scope, allowSlice bool) (exprs []string, slice bool, ok bool) {
	keys, has := a.args["key"]
	if !has {
		if len(f.parts) == 0 {
			return nil, false, true
		}
		g.errorf(a.pos, "cached:%s name=%s: needs key= (%d part%s: %s)", a.kind, f.name, len(f.parts), plural(len(f.parts)), g.partTypes(f))
		return nil, false, false
	}
	list := strings.Split(keys, ",")
	if len(f.parts) == 0 {
		g.errorf(a.pos, "cached:%s name=%s: %s takes no key", a.kind, f.name, f.name)
		return nil, false, false
	}
	if len(list) != len(f.parts) {
		g.errorf(a.pos, "cached:%s name=%s: key= has %d part%s, %s is keyed by %d (%s)", a.kind, f.name, len(list), plural(len(list)), f.name, len(f.parts), g.partTypes(f))
		return nil, false, false
	}
	for i, k := range list {
		v, ok := g.expr(a, "key", k, sc)
		if !ok {
			return nil, false, false
		}
		want := f.parts[i].typ
		if types.AssignableTo(v.typ, want) {
			exprs = append(exprs, v.src)
			continue
		}
		if sl, isSlice := v.typ.Underlying().(*types.Slice); isSlice && allowSlice && len(list) == 1 && types.AssignableTo(sl.Elem(), want) {
			return []string{v.src}, true, true
		}
		g.errorf(a.pos, "cached:%s name=%s: key %s is %s, %s's key is %s", a.kind, f.name, k, g.typeString(v.typ), f.name, g.typeString(want))
		return nil, false, false
	}
	return exprs, false, true
}

func (g *generator) partTypes(f *cachedFn) string {
	var ts []string
	for _, p := range f.parts {
		ts = append(ts, g.typeString(p.typ))
	}
	return strings.Join(ts, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (g *generator) evict(m *method, a *annot, sc scope, before bool) {
	_, hasName := a.args["name"]
	tags, hasTags := a.args["tags"]
	if !hasName && !hasTags {
		g.errorf(a.pos, "cached:evict needs name= (with key=) or tags=")
		return
	}
	if _, hasKey := a.args["key"]; hasKey && !hasName {
		g.errorf(a.pos, "cached:evict: key= needs name=")
		return
	}
	ctx := m.wctx
	if hasName {
		f := g.target(a)
		if f == nil {
			return
		}
		exprs, slice, ok := g.keyExprs(a, f, sc, true)
		if !ok {
			return
		}
		if slice {
			m.writes = append(m.writes, write{before: before, fn: f,
				loop: "for _, k := range " + exprs[0] + " {",
				stmt: g.recv + "." + f.field + ".Invalidate(" + ctx + ", k)"})
		} else {
			m.writes = append(m.writes, write{before: before, stmt: g.recv + "." + f.field + ".Invalidate(" + ctx + f.keyArgs(exprs) + ")", fn: f})
		}
	}
	if hasTags {
		dec := g.im.name("github.com/cachedgo/cached/decorator", "decorator")
		var srcs []string
		for _, t := range strings.Split(tags, ",") {
			src, _, ok := g.template(a, t, sc, dec)
			if !ok {
				return
			}
			srcs = append(srcs, src)
		}
		g.tagged = true
		m.writes = append(m.writes, write{before: before, stmt: g.recv + ".tags.Invalidate(" + ctx + ", " + strings.Join(srcs, ", ") + ")"})
	}
}

func (g *generator) put(m *method, a *annot, sc scope) {
	if _, ok := a.args["name"]; !ok {
		g.errorf(a.pos, "cached:put needs name=")
		return
	}
	f := g.target(a)
	if f == nil {
		return
	}
	exprs, _, ok := g.keyExprs(a, f, sc, false)
	if !ok {
		return
	}
	var val string
	if v, ok := a.args["value"]; ok {
		x, ok := g.expr(a, "value", v, sc)
		if !ok {
			return
		}
		if !types.AssignableTo(x.typ, f.val) {
			g.errorf(a.pos, "cached:put name=%s: value %s is %s, %s's values are %s", f.name, v, g.typeString(x.typ), f.name, g.typeString(f.val))
			return
		}
		val = x.src
	} else {
		// The result if it is a value of f, else the one argument that is.
		if r, ok := sc["result"]; ok && types.AssignableTo(r.typ, f.val) {
			val = r.src
		} else {
			var cands []string
			for _, p := range m.args() {
				if types.AssignableTo(p.typ, f.val) {
					cands = append(cands, p.name)
				}
			}
			if len(cands) != 1 {
				g.errorf(a.pos, "cached:put name=%s: give value=: %s has %d arguments and no result of type %s", f.name, m.name, len(cands), g.typeString(f.val))
				return
			}
			val = cands[0]
		}
	}
	m.writes = append(m.writes, write{put: true, stmt: g.recv + "." + f.field + ".Put(" + m.wctx + f.keyArgs(exprs) + ", " + val + ")", fn: f})
}

// resultNames names a write method's results and its detached context so that they do
// not clash with its parameters.
func (g *generator) resultNames(m *method) {
	used := map[string]bool{}
	for _, p := range m.params {
		used[p.name] = true
	}
	unique := func(n string) string {
		for used[n] {
			n += "_"
		}
		used[n] = true
		return n
	}
	for i := range m.results {
		switch {
		case i == len(m.results)-1 && m.errLast:
			m.resultVars = append(m.resultVars, unique("err"))
		case i == 0:
			m.resultVars = append(m.resultVars, unique("result"))
		default:
			m.resultVars = append(m.resultVars, unique("res"+itoa(int64(i))))
		}
	}
	m.wctx = unique("wctx")
}

// fieldFor names the key struct field of key expression k: q.OrgID → orgID.
func fieldFor(k string, prev []part) string {
	k = strings.TrimSuffix(strings.TrimSpace(k), "()")
	if j := strings.LastIndexByte(k, '.'); j >= 0 {
		k = k[j+1:]
	}
	k = lowerFirst(k)
	if !token.IsIdentifier(k) || token.IsKeyword(k) || k == "_" {
		k = "k" + itoa(int64(len(prev)))
	}
	for slices.ContainsFunc(prev, func(p part) bool { return p.field == k }) {
		k += "_"
	}
	return k
}

// lowerFirst lowers the leading capitals of an identifier: ID → id, OrgID → orgID.
func lowerFirst(s string) string {
	r := []rune(s)
	for i := range r {
		if !unicode.IsUpper(r[i]) {
			break
		}
		if i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) {
			break
		}
		r[i] = unicode.ToLower(r[i])
	}
	return string(r)
}

// typeIdent returns an unexported type name for the generated file: userRepoGetUserKey.
func (g *generator) typeIdent(suffix string) string {
	n := lowerFirst(g.typeName) + suffix
	for g.pkg.Types.Scope().Lookup(n) != nil {
		n += "_"
	}
	return n
}

// nameFields gives every cached function and batch method a field name.
func (g *generator) nameFields() {
	used := map[string]bool{"next": true, "opts": true, "tags": true}
	for _, m := range g.methods {
		used[m.name] = true // a field may not share a method's name
	}
	unique := func(n string) string {
		if n == "" || !token.IsIdentifier(n) {
			n = "fn"
		}
		for used[n] {
			n += "_"
		}
		used[n] = true
		return n
	}
	for _, f := range g.fns {
		f.field = unique(identFor(f.name))
	}
	for _, m := range g.methods {
		if m.read != nil && m.read.kind == "batch" {
			m.batchField = unique(lowerFirst(m.name))
		}
	}
}

// identFor turns a function's name into an identifier: user → user, user.byEmail →
// userByEmail, GetUser → getUser.
func identFor(name string) string {
	var b strings.Builder
	up := false
	for _, r := range name {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_':
			if up {
				r = unicode.ToUpper(r)
				up = false
			}
			b.WriteRune(r)
		default:
			up = b.Len() > 0
		}
	}
	s := lowerFirst(b.String())
	if s != "" && unicode.IsDigit([]rune(s)[0]) {
		s = "fn" + s
	}
	return s
}

func (g *generator) typeString(t types.Type) string {
	return types.TypeString(t, g.relative)
}

// receiver names the decorator's receiver so that no parameter hides it.
func (g *generator) receiver() string {
	used := map[string]bool{}
	for _, m := range g.methods {
		for _, p := range m.params {
			used[p.name] = true
		}
	}
	for _, n := range []string{"r", "d", "cr", "dec", "recv"} {
		if !used[n] {
			return n
		}
	}
	n := "recv"
	for used[n] {
		n += "_"
	}
	return n
}

// nilable reports whether a value of t may be nil, so that reading a field through it
// may panic.
func nilable(t types.Type) bool {
	switch t.Underlying().(type) {
	case *types.Pointer, *types.Interface:
		return true
	}
	return false
}

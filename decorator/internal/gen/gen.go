// Package gen is cachedgen's generator: it reads an annotated interface with its type
// information and writes the source of a cached decorator for it.
package gen

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/tools/go/packages"
)

// Config says what to generate.
type Config struct {
	Dir    string // the package's directory; "" is the current directory
	Type   string // the interface's name
	Output string // the file to write; "" is lower(Type)+"_cached.go" in Dir
}

// Errors are the mistakes found in the annotations, each prefixed with file:line:col.
type Errors []error

func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "\n")
}

// OutputPath returns the file Generate writes for cfg.
func OutputPath(cfg Config) (string, error) {
	dir := cfg.Dir
	if dir == "" {
		dir = "."
	}
	out := cfg.Output
	if out == "" {
		out = strings.ToLower(cfg.Type) + "_cached.go"
	}
	if !filepath.IsAbs(out) {
		out = filepath.Join(dir, out)
	}
	return filepath.Abs(out)
}

// Generate loads the package in cfg.Dir and returns the path and the gofmt'd source of
// the decorator of cfg.Type. The error is an [Errors] when annotations are wrong.
func Generate(cfg Config) (path string, src []byte, err error) {
	if cfg.Type == "" {
		return "", nil, errors.New("no -type given")
	}
	if cfg.Dir == "" {
		cfg.Dir = "."
	}
	dir := cfg.Dir
	out, err := OutputPath(cfg)
	if err != nil {
		return "", nil, err
	}
	pc := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax |
			packages.NeedTypes | packages.NeedTypesInfo | packages.NeedImports,
		Dir: dir,
	}
	// A decorator generated before the interface changed may no longer compile: read
	// the package without it.
	if pkgName, ok := packageClause(out); ok {
		pc.Overlay = map[string][]byte{out: []byte("package " + pkgName + "\n")}
	}
	pkgs, err := packages.Load(pc, ".")
	if err != nil {
		return "", nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	if len(pkgs) != 1 {
		return "", nil, fmt.Errorf("loading %s: %d packages, want 1", dir, len(pkgs))
	}
	pkg := pkgs[0]
	// The package's other files may use the decorator (NewCachedUserRepo), which the
	// overlay has just removed: type errors elsewhere are expected. They matter only
	// when the interface itself does not type-check.
	pkgErrs := func() error {
		var errs Errors
		for _, e := range pkg.Errors {
			errs = append(errs, errors.New(e.Error()))
		}
		return errs
	}
	if pkg.Types == nil || (len(pkg.Errors) > 0 && len(pkg.Syntax) == 0) {
		return "", nil, pkgErrs()
	}
	g := &generator{pkg: pkg, fset: pkg.Fset, typeName: cfg.Type, out: out}
	if err := g.read(); err != nil {
		if len(pkg.Errors) > 0 {
			return "", nil, errors.Join(err, pkgErrs())
		}
		return "", nil, err
	}
	if len(pkg.Errors) > 0 && strings.Contains(types.TypeString(g.named.Underlying(), nil), "invalid type") {
		return "", nil, pkgErrs()
	}
	src, err = g.render()
	return out, src, err
}

// packageClause returns the package name of an existing file.
func packageClause(file string) (string, bool) {
	if _, err := os.Stat(file); err != nil {
		return "", false
	}
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.PackageClauseOnly)
	if err != nil {
		return "", false
	}
	return f.Name.Name, true
}

type generator struct {
	pkg      *packages.Package
	fset     *token.FileSet
	typeName string
	out      string

	file    *ast.File // the file declaring the interface
	named   *types.Named
	methods []*method
	fns     []*cachedFn // in order of first appearance
	byName  map[string]*cachedFn
	tagged  bool // some function is tagged or some write evicts tags
	im      *imports
	recv    string // the receiver's name in the generated methods
	errs    Errors
}

// errorf records an error at pos.
func (g *generator) errorf(pos token.Pos, format string, args ...any) {
	g.errs = append(g.errs, fmt.Errorf("%s: %s", g.position(pos), fmt.Sprintf(format, args...)))
}

// position is pos as file:line:col, the file relative to the working directory when
// it is below it.
func (g *generator) position(pos token.Pos) string {
	p := g.fset.Position(pos)
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, p.Filename); err == nil && !strings.HasPrefix(rel, "..") {
			p.Filename = rel
		}
	}
	return p.String()
}

// param is one parameter of a method.
type param struct {
	name string // as declared, or p<i> when unnamed
	typ  types.Type
}

type method struct {
	name     string
	pos      token.Pos
	sig      *types.Signature
	params   []param // all of them, the context included
	hasCtx   bool    // params[0] is a context.Context
	variadic bool
	results  []types.Type
	errLast  bool // the last result is error
	annots   []*annot
	// Set for writes: the names of the results and of the detached context, and the
	// cache writes before and after the call.
	resultVars []string
	wctx       string
	writes     []write
	// batchField is the field holding a batch method's cached form.
	batchField string
	// read is the get or batch annotation, nil for writes and pass-throughs.
	read *annot
	fn   *cachedFn
}

// args returns the parameters after the context.
func (m *method) args() []param {
	if m.hasCtx {
		return m.params[1:]
	}
	return m.params
}

func (m *method) param(name string) (param, bool) {
	for _, p := range m.args() {
		if p.name == name {
			return p, true
		}
	}
	return param{}, false
}

// read finds the interface, its methods and their annotations, and checks them.
func (g *generator) read() error {
	obj := g.pkg.Types.Scope().Lookup(g.typeName)
	if obj == nil {
		return fmt.Errorf("type %s not found in package %s", g.typeName, g.pkg.PkgPath)
	}
	tn, ok := obj.(*types.TypeName)
	if !ok {
		return fmt.Errorf("%s: %s is not a type", g.fset.Position(obj.Pos()), g.typeName)
	}
	named, ok := tn.Type().(*types.Named)
	if !ok || tn.IsAlias() {
		return fmt.Errorf("%s: %s is an alias; name the interface itself", g.fset.Position(obj.Pos()), g.typeName)
	}
	iface, ok := named.Underlying().(*types.Interface)
	if !ok {
		return fmt.Errorf("%s: %s is not an interface", g.fset.Position(obj.Pos()), g.typeName)
	}
	if named.TypeParams().Len() > 0 {
		return fmt.Errorf("%s: %s is generic; generic interfaces are not supported", g.fset.Position(obj.Pos()), g.typeName)
	}
	if !iface.IsMethodSet() {
		return fmt.Errorf("%s: %s is a constraint, not an interface of methods", g.fset.Position(obj.Pos()), g.typeName)
	}
	g.named = named
	for _, n := range []string{"Cached" + g.typeName, "NewCached" + g.typeName} {
		if o := g.pkg.Types.Scope().Lookup(n); o != nil {
			return fmt.Errorf("%s: %s is already declared; the decorator of %s needs the name (use -output to replace an older generated file, or rename it)", g.position(o.Pos()), n, g.typeName)
		}
	}
	spec := g.findSpec(obj.Pos())
	if spec == nil {
		return fmt.Errorf("%s: the declaration of %s is not in the package's files", g.fset.Position(obj.Pos()), g.typeName)
	}
	// Methods declared in the interface, in source order, with their doc comments;
	// then those of embedded interfaces, passed through.
	docs := map[string]*ast.CommentGroup{}
	var order []string
	for _, f := range spec.Methods.List {
		for _, n := range f.Names {
			docs[n.Name] = f.Doc
			order = append(order, n.Name)
		}
	}
	all := map[string]*types.Func{}
	var embedded []string
	for i := range iface.NumMethods() {
		m := iface.Method(i)
		all[m.Name()] = m
		if _, ok := docs[m.Name()]; !ok {
			embedded = append(embedded, m.Name())
		}
	}
	for _, name := range append(order, embedded...) {
		fn := all[name]
		if !fn.Exported() && fn.Pkg() != g.pkg.Types {
			g.errorf(fn.Pos(), "%s.%s is unexported in package %s: no other package can implement it", g.typeName, name, fn.Pkg().Path())
			continue
		}
		m := g.method(fn)
		if doc := docs[name]; doc != nil {
			m.annots = g.parseAnnots(doc)
		} else if doc := g.docAt(fn.Pos()); doc != nil {
			// A method of an embedded interface declared in this package: its annotations
			// apply as if it were declared here.
			m.annots = g.parseAnnots(doc)
		}
		g.methods = append(g.methods, m)
	}
	if len(g.errs) == 0 {
		g.check()
	}
	if len(g.errs) > 0 {
		return g.errs
	}
	return nil
}

// docAt returns the doc comment of the interface method declared at pos in the package's
// files, nil when there is none or the declaration is elsewhere.
func (g *generator) docAt(pos token.Pos) *ast.CommentGroup {
	for _, f := range g.pkg.Syntax {
		if f.FileStart > pos || pos >= f.FileEnd {
			continue
		}
		var doc *ast.CommentGroup
		ast.Inspect(f, func(n ast.Node) bool {
			if fl, ok := n.(*ast.Field); ok {
				for _, name := range fl.Names {
					if name.Pos() == pos {
						doc = fl.Doc
						return false
					}
				}
			}
			return doc == nil
		})
		return doc
	}
	return nil
}

func (g *generator) findSpec(pos token.Pos) *ast.InterfaceType {
	for _, f := range g.pkg.Syntax {
		if f.FileStart > pos || pos >= f.FileEnd {
			continue
		}
		g.file = f
		var it *ast.InterfaceType
		ast.Inspect(f, func(n ast.Node) bool {
			if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Pos() == pos {
				it, _ = ts.Type.(*ast.InterfaceType)
				return false
			}
			return it == nil
		})
		return it
	}
	return nil
}

func (g *generator) method(fn *types.Func) *method {
	sig := fn.Type().(*types.Signature)
	m := &method{name: fn.Name(), pos: fn.Pos(), sig: sig, variadic: sig.Variadic()}
	used := map[string]bool{}
	for i := range sig.Params().Len() {
		used[sig.Params().At(i).Name()] = true
	}
	for i := range sig.Params().Len() {
		v := sig.Params().At(i)
		name := v.Name()
		if name == "" || name == "_" {
			name = fmt.Sprintf("p%d", i)
			for used[name] {
				name += "_"
			}
			used[name] = true
		}
		m.params = append(m.params, param{name: name, typ: v.Type()})
	}
	m.hasCtx = len(m.params) > 0 && isContext(m.params[0].typ)
	for i := range sig.Results().Len() {
		m.results = append(m.results, sig.Results().At(i).Type())
	}
	m.errLast = len(m.results) > 0 && isError(m.results[len(m.results)-1])
	return m
}

func isContext(t types.Type) bool {
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == "context" && n.Obj().Name() == "Context"
}

func isError(t types.Type) bool {
	return types.Identical(t, types.Universe.Lookup("error").Type())
}

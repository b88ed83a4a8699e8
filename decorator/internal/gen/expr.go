package gen

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// scope maps the names an annotation's expressions may use to their types and to what
// the generated code calls them.
type scope map[string]scoped

type scoped struct {
	typ types.Type
	src string
}

// value is a checked expression.
type value struct {
	src  string     // Go source, with names as the generated code spells them
	typ  types.Type // its type
	root string     // the name it starts from, as the annotation spells it
}

// expr checks s, an expression of an annotation: a name in sc followed by fields and
// method calls without arguments (u.ID, q.Filter.Org, u.Key()).
func (g *generator) expr(a *annot, opt, s string, sc scope) (value, bool) {
	e, err := parser.ParseExpr(s)
	if err != nil {
		g.errorf(a.pos, "cached:%s: %s=%s: not an expression: %v", a.kind, opt, s, err)
		return value{}, false
	}
	v, err := g.eval(e, sc)
	if err != nil {
		g.errorf(a.pos, "cached:%s: %s=%s: %v", a.kind, opt, s, err)
		return value{}, false
	}
	return v, true
}

func (g *generator) eval(e ast.Expr, sc scope) (value, error) {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return g.eval(e.X, sc)
	case *ast.BasicLit:
		t := map[token.Token]types.BasicKind{token.INT: types.UntypedInt, token.STRING: types.UntypedString, token.CHAR: types.UntypedRune}[e.Kind]
		if t == types.Invalid {
			return value{}, fmt.Errorf("only integer, string and rune literals are allowed")
		}
		return value{src: e.Value, typ: types.Typ[t]}, nil
	case *ast.Ident:
		s, ok := sc[e.Name]
		if !ok {
			return value{}, fmt.Errorf("undefined: %s (in scope: %s)", e.Name, sc.names())
		}
		return value{src: s.src, typ: s.typ, root: e.Name}, nil
	case *ast.SelectorExpr:
		x, err := g.eval(e.X, sc)
		if err != nil {
			return x, err
		}
		obj, _, _ := types.LookupFieldOrMethod(x.typ, true, g.pkg.Types, e.Sel.Name)
		switch obj := obj.(type) {
		case *types.Var:
			return value{src: x.src + "." + e.Sel.Name, typ: obj.Type(), root: x.root}, nil
		case *types.Func:
			return value{}, fmt.Errorf("%s is a method: call it, %s()", e.Sel.Name, e.Sel.Name)
		}
		return value{}, fmt.Errorf("%s has no field or method %s", types.TypeString(x.typ, g.relative), e.Sel.Name)
	case *ast.CallExpr:
		sel, ok := e.Fun.(*ast.SelectorExpr)
		if !ok || len(e.Args) > 0 || e.Ellipsis.IsValid() {
			return value{}, fmt.Errorf("only method calls without arguments are allowed")
		}
		x, err := g.eval(sel.X, sc)
		if err != nil {
			return x, err
		}
		obj, _, _ := types.LookupFieldOrMethod(x.typ, true, g.pkg.Types, sel.Sel.Name)
		fn, ok := obj.(*types.Func)
		if !ok {
			return value{}, fmt.Errorf("%s has no method %s", types.TypeString(x.typ, g.relative), sel.Sel.Name)
		}
		sig := fn.Type().(*types.Signature)
		if sig.Params().Len() != 0 || sig.Results().Len() != 1 {
			return value{}, fmt.Errorf("method %s must take no arguments and return one value", sel.Sel.Name)
		}
		return value{src: x.src + "." + sel.Sel.Name + "()", typ: sig.Results().At(0).Type(), root: x.root}, nil
	}
	return value{}, fmt.Errorf("only names, fields, method calls without arguments and literals are allowed")
}

func (sc scope) names() string {
	if len(sc) == 0 {
		return "nothing"
	}
	return strings.Join(slices.Sorted(maps.Keys(sc)), ", ")
}

func (g *generator) relative(p *types.Package) string {
	if p == g.pkg.Types {
		return ""
	}
	return p.Name()
}

var (
	stringer = types.NewInterfaceType([]*types.Func{types.NewFunc(token.NoPos, nil, "String",
		types.NewSignatureType(nil, nil, nil, nil, types.NewTuple(types.NewVar(token.NoPos, nil, "", types.Typ[types.String])), false))}, nil).Complete()
	textMarshaler = types.NewInterfaceType([]*types.Func{types.NewFunc(token.NoPos, nil, "MarshalText",
		types.NewSignatureType(nil, nil, nil, nil, types.NewTuple(
			types.NewVar(token.NoPos, nil, "", types.NewSlice(types.Typ[types.Byte])),
			types.NewVar(token.NoPos, nil, "", types.Universe.Lookup("error").Type())), false))}, nil).Complete()
)

// unkeyable says why values of t cannot be (part of) a cache key, "" when they can: the
// engine writes a key's string form from String, MarshalText, or a string, integer or bool
// value, and keys the in-process tier by the value itself, which must compare by content.
func unkeyable(t types.Type) string {
	switch t.Underlying().(type) {
	case *types.Pointer:
		return "is a pointer: keys would compare by address"
	case *types.Interface:
		return "is an interface: its dynamic type would decide the key"
	case *types.Chan, *types.Signature:
		return "cannot be a key"
	}
	if !types.Comparable(t) {
		return "is not comparable"
	}
	if types.Implements(t, stringer) || types.Implements(t, textMarshaler) {
		return ""
	}
	if b, ok := t.Underlying().(*types.Basic); ok && b.Info()&(types.IsString|types.IsInteger|types.IsBoolean) != 0 {
		return ""
	}
	return "has no string form (want a string, integer or bool, a fmt.Stringer or an encoding.TextMarshaler; or give key= naming its fields)"
}

// template checks a tag template (user:{u.ID}) and returns it as a Go string expression.
func (g *generator) template(a *annot, t string, sc scope, keyPkg string) (string, []string, bool) {
	var parts, roots []string
	rest := t
	for rest != "" {
		i := strings.IndexAny(rest, "{}")
		if i < 0 {
			parts = append(parts, strconv.Quote(rest))
			break
		}
		if rest[i] == '}' {
			g.errorf(a.pos, "cached:%s: tag %q: } without {", a.kind, t)
			return "", nil, false
		}
		if i > 0 {
			parts = append(parts, strconv.Quote(rest[:i]))
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			g.errorf(a.pos, "cached:%s: tag %q: { without }", a.kind, t)
			return "", nil, false
		}
		v, ok := g.expr(a, "tag", rest[i+1:i+j], sc)
		if !ok {
			return "", nil, false
		}
		if why := unkeyable(v.typ); why != "" {
			g.errorf(a.pos, "cached:%s: tag %q: %s of type %s %s", a.kind, t, rest[i+1:i+j], types.TypeString(v.typ, g.relative), why)
			return "", nil, false
		}
		parts = append(parts, keyPkg+".Key("+v.src+")")
		roots = append(roots, v.root)
		rest = rest[i+j+1:]
	}
	if len(parts) == 0 {
		g.errorf(a.pos, "cached:%s: empty tag", a.kind)
		return "", nil, false
	}
	return strings.Join(parts, " + "), roots, true
}

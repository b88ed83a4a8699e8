package luapolicy

import (
	"strconv"
	"strings"

	"github.com/yuin/gopher-lua/ast"
)

// lines maps a setting's path ("user.ttl") to the line it is written on, for errors about
// settings that the script spells out as table literals (the usual case). A setting
// computed at run time has no entry and its errors name the path only.
type lines map[string]int

// indexLines finds the table the chunk returns, directly (return { ... }) or through a
// top-level local (local P = { ... } ... P.name = { ... } ... return P).
func indexLines(chunk []ast.Stmt) lines {
	l := lines{}
	locals := map[string]*ast.TableExpr{}
	for _, s := range chunk {
		switch s := s.(type) {
		case *ast.LocalAssignStmt:
			for i, n := range s.Names {
				if i < len(s.Exprs) {
					if t, ok := s.Exprs[i].(*ast.TableExpr); ok {
						locals[n] = t
					}
				}
			}
		case *ast.ReturnStmt:
			if len(s.Exprs) != 1 {
				continue
			}
			switch e := s.Exprs[0].(type) {
			case *ast.TableExpr:
				l.table("", e)
			case *ast.IdentExpr:
				if t := locals[e.Value]; t != nil {
					l.table("", t)
				}
				l.assigned(chunk, e.Value)
			}
		}
	}
	return l
}

// assigned indexes top-level assignments P.name = { ... } to the returned local P.
func (l lines) assigned(chunk []ast.Stmt, root string) {
	for _, s := range chunk {
		a, ok := s.(*ast.AssignStmt)
		if !ok {
			continue
		}
		for i, lhs := range a.Lhs {
			g, ok := lhs.(*ast.AttrGetExpr)
			if !ok || i >= len(a.Rhs) {
				continue
			}
			obj, ok1 := g.Object.(*ast.IdentExpr)
			key, ok2 := g.Key.(*ast.StringExpr)
			if !ok1 || !ok2 || obj.Value != root {
				continue
			}
			l[key.Value] = a.Line()
			if t, ok := a.Rhs[i].(*ast.TableExpr); ok {
				l.table(key.Value+".", t)
			}
		}
	}
}

func (l lines) table(prefix string, t *ast.TableExpr) {
	for _, f := range t.Fields {
		k, ok := f.Key.(*ast.StringExpr)
		if !ok {
			continue
		}
		l[prefix+k.Value] = f.Value.Line()
		if sub, ok := f.Value.(*ast.TableExpr); ok && prefix == "" {
			l.table(k.Value+".", sub)
		}
	}
}

// at returns "name:line: " for path, else for the nearest enclosing path with a known
// line (a policy built by a helper function: the line that assigns it), else "name: ".
func (l lines) at(name, path string) string {
	for {
		if n, ok := l[path]; ok && n > 0 {
			return name + ":" + strconv.Itoa(n) + ": "
		}
		i := strings.LastIndexByte(path, '.')
		if i < 0 {
			return name + ": "
		}
		path = path[:i]
	}
}

package luapolicy

import (
	"strconv"

	"github.com/yuin/gopher-lua/ast"
)

// catName and indexName are the locals through which every `..` and every computed table
// index a script assigns to are made: names no script can write, since the lexer never
// produces them.
const (
	catName   = "\x00cat"
	indexName = "\x00index"
	lenName   = "\x00len"
)

// guardConcat rewrites every concatenation `a .. b .. c` of the chunk into a call
// cat(a, b, c) of the bounded concatenation the VM installs under catName, and declares
// that local at the top of the chunk.
//
// Why rewrite the syntax tree: gopher-lua's OP_CONCAT allocates inside one VM
// instruction, where no hook can see it, so `s = s .. s` doubles a string thirty times
// in thirty instructions (a gigabyte) long before any deadline or instruction count
// stops it. A call to a Go function is the one place a size can be checked before the
// bytes are allocated.
func guardConcat(chunk []ast.Stmt) []ast.Stmt {
	w := concatRewriter{}
	w.stmts(chunk)
	decl := &ast.LocalAssignStmt{
		Names: []string{catName, indexName, lenName},
		Exprs: []ast.Expr{&ast.IdentExpr{Value: catName}, &ast.IdentExpr{Value: indexName}, &ast.IdentExpr{Value: lenName}},
	}
	return append([]ast.Stmt{decl}, chunk...)
}

type concatRewriter struct{}

func (w concatRewriter) stmts(ss []ast.Stmt) {
	for _, s := range ss {
		w.stmt(s)
	}
}

func (w concatRewriter) exprs(es []ast.Expr) {
	for i := range es {
		es[i] = w.expr(es[i])
	}
}

func (w concatRewriter) stmt(s ast.Stmt) {
	switch s := s.(type) {
	case *ast.AssignStmt:
		w.exprs(s.Lhs)
		w.exprs(s.Rhs)
		for _, l := range s.Lhs {
			if g, ok := l.(*ast.AttrGetExpr); ok {
				// A name can be read twice without side effects: the check is told the
				// table too. (A global read goes through _G, whose only metamethod is
				// __newindex.)
				var t ast.Expr
				if id, ok := g.Object.(*ast.IdentExpr); ok {
					t = &ast.IdentExpr{Value: id.Value}
					t.SetLine(id.Line())
				}
				g.Key = guardIndex(g.Key, t)
			}
		}
	case *ast.LocalAssignStmt:
		w.exprs(s.Exprs)
	case *ast.FuncCallStmt:
		s.Expr = w.expr(s.Expr)
	case *ast.DoBlockStmt:
		w.stmts(s.Stmts)
	case *ast.WhileStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Stmts)
	case *ast.RepeatStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Stmts)
	case *ast.IfStmt:
		s.Condition = w.expr(s.Condition)
		w.stmts(s.Then)
		w.stmts(s.Else)
	case *ast.NumberForStmt:
		s.Init = w.expr(s.Init)
		s.Limit = w.expr(s.Limit)
		if s.Step != nil {
			s.Step = w.expr(s.Step)
		}
		w.stmts(s.Stmts)
	case *ast.GenericForStmt:
		w.exprs(s.Exprs)
		w.stmts(s.Stmts)
	case *ast.FuncDefStmt:
		s.Name.Func = w.expr(s.Name.Func)
		if s.Name.Receiver != nil {
			s.Name.Receiver = w.expr(s.Name.Receiver)
		}
		w.stmts(s.Func.Stmts)
	case *ast.ReturnStmt:
		w.exprs(s.Exprs)
	}
}

func (w concatRewriter) expr(e ast.Expr) ast.Expr {
	switch e := e.(type) {
	case nil:
		return nil
	case *ast.StringConcatOpExpr:
		// a .. b .. c parses as a .. (b .. c): one call takes the whole right chain.
		var args []ast.Expr
		var x ast.Expr = e
		for {
			c, ok := x.(*ast.StringConcatOpExpr)
			if !ok {
				break
			}
			args = append(args, w.expr(c.Lhs))
			x = c.Rhs
		}
		args = append(args, w.expr(x))
		return callAt(e, catName, args...)
	case *ast.AttrGetExpr:
		e.Object = w.expr(e.Object)
		e.Key = w.expr(e.Key)
	case *ast.TableExpr:
		for _, f := range e.Fields {
			f.Key = guardIndex(w.expr(f.Key), nil)
			f.Value = w.expr(f.Value)
		}
	case *ast.FuncCallExpr:
		e.Func = w.expr(e.Func)
		e.Receiver = w.expr(e.Receiver)
		w.exprs(e.Args)
	case *ast.LogicalOpExpr:
		e.Lhs, e.Rhs = w.expr(e.Lhs), w.expr(e.Rhs)
	case *ast.RelationalOpExpr:
		e.Lhs, e.Rhs = w.expr(e.Lhs), w.expr(e.Rhs)
	case *ast.ArithmeticOpExpr:
		e.Lhs, e.Rhs = w.expr(e.Lhs), w.expr(e.Rhs)
	case *ast.UnaryMinusOpExpr:
		e.Expr = w.expr(e.Expr)
	case *ast.UnaryNotOpExpr:
		e.Expr = w.expr(e.Expr)
	case *ast.UnaryLenOpExpr:
		// gopher-lua's # scans back from the end of a table's array over every nil slot;
		// the bounded form finds a border by doubling and bisection, as PUC Lua does.
		return callAt(e, lenName, w.expr(e.Expr))
	case *ast.FunctionExpr:
		w.stmts(e.Stmts)
	}
	return e
}

// guardIndex wraps a computed key of a table store, t[k] = v or { [k] = v }, in a call of
// the bounded index check (see checkIndex). String constants, the usual t.name = v, and
// small number constants need no check.
func guardIndex(k, t ast.Expr) ast.Expr {
	switch c := k.(type) {
	case nil, *ast.StringExpr:
		return k
	case *ast.NumberExpr:
		if n, err := strconv.ParseFloat(c.Value, 64); err == nil && n <= maxIndex {
			return k
		}
	}
	args := []ast.Expr{k}
	if t != nil {
		args = append(args, t)
	}
	return callAt(k, indexName, args...)
}

// callAt is a call of the hidden local name with args, on the lines of at, so that its
// errors point where the script wrote the expression it replaces.
func callAt(at ast.PositionHolder, name string, args ...ast.Expr) ast.Expr {
	call := &ast.FuncCallExpr{Func: &ast.IdentExpr{Value: name}, Args: args, AdjustRet: true}
	for _, n := range []ast.PositionHolder{call, call.Func} {
		n.SetLine(at.Line())
		n.SetLastLine(at.LastLine())
	}
	return call
}

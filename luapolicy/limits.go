package luapolicy

import (
	"math"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// guard replaces the library functions that build strings with versions that check the
// result's size with the meter before it is allocated, and installs the bounded
// concatenation the rewritten chunk calls (see guardConcat).
func guard(L *lua.LState, m *meter, str, tab *lua.LTable) {
	orig := func(t *lua.LTable, name string) lua.LGFunction {
		return t.RawGetString(name).(*lua.LFunction).GFunction
	}
	wrap := func(t *lua.LTable, name string, size func(L *lua.LState) int) {
		fn := orig(t, name)
		t.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			if err := m.build(size(L)); err != nil {
				L.RaiseError("%s", err.Error())
			}
			return fn(L)
		}))
	}
	same := func(L *lua.LState) int { return len(L.CheckString(1)) }
	wrap(str, "upper", same)
	wrap(str, "lower", same)
	wrap(str, "reverse", same)
	wrap(str, "char", func(L *lua.LState) int { return L.GetTop() })
	wrap(str, "rep", func(L *lua.LState) int {
		s, n := L.CheckString(1), L.CheckInt(2)
		if n <= 0 || len(s) == 0 {
			return 0
		}
		if len(s) > math.MaxInt32/n {
			return -1
		}
		return len(s) * n
	})
	wrap(str, "format", formatSize)
	wrap(tab, "concat", concatSize)

	gsub := orig(str, "gsub")
	str.RawSetString("gsub", L.NewFunction(func(L *lua.LState) int { return boundedGsub(L, m, gsub) }))
	str.RawSetString("dump", lua.LNil)
	L.SetGlobal(catName, L.NewFunction(func(L *lua.LState) int { return cat(L, m) }))
}

// formatSize bounds string.format's result: the format, each argument as a string, and
// each directive's width. Lua itself allows widths and precisions of two digits at most.
func formatSize(L *lua.LState) int {
	f := L.CheckString(1)
	n := len(f)
	arg := 2
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		i++
		if i < len(f) && f[i] == '%' {
			continue
		}
		for i < len(f) && strings.IndexByte("-+ #0", f[i]) >= 0 {
			i++
		}
		digits := 0
		for i < len(f) && (f[i] >= '0' && f[i] <= '9' || f[i] == '.') {
			if f[i] != '.' {
				digits++
			}
			i++
		}
		if digits > 4 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		n += 100 + len(lua.LVAsString(L.Get(arg)))
		if v := L.Get(arg); v.Type() != lua.LTString && v.Type() != lua.LTNumber {
			n += len(v.String())
		}
		arg++
	}
	return n
}

// concatSize is the length of table.concat's result.
func concatSize(L *lua.LState) int {
	t := L.CheckTable(1)
	sep := len(L.OptString(2, ""))
	i, j := L.OptInt(3, 1), L.OptInt(4, t.Len())
	n := 0
	for k := i; k <= j; k++ {
		v := t.RawGetInt(k)
		switch v.Type() {
		case lua.LTString, lua.LTNumber:
			n += len(lua.LVAsString(v))
		default:
			return 0 // the original raises the error
		}
		if k < j {
			n += sep
		}
		if n > math.MaxInt32 {
			return -1
		}
	}
	return n
}

// boundedGsub runs string.gsub with its result bounded: for a string replacement by the
// worst case of its expansion (every position a match, every %n the whole input), for a
// table or function replacement by counting what each replacement returns as gsub goes.
func boundedGsub(L *lua.LState, m *meter, gsub lua.LGFunction) int {
	s := L.CheckString(1)
	L.CheckString(2)
	switch repl := L.Get(3).(type) {
	case lua.LString, lua.LNumber:
		r := lua.LVAsString(repl)
		per := len(r) + strings.Count(r, "%")*len(s)
		matches := len(s) + 1
		if lim := L.OptInt(4, -1); lim >= 0 && lim < matches {
			matches = lim
		}
		size := -1
		if per == 0 || matches <= (math.MaxInt32-len(s))/per {
			size = len(s) + matches*per
		}
		if err := m.build(size); err != nil {
			L.RaiseError("%s", err.Error())
		}
		return gsub(L)
	case *lua.LTable, *lua.LFunction:
		out := len(s)
		L.Replace(3, L.NewFunction(func(L *lua.LState) int {
			var v lua.LValue
			if t, ok := repl.(*lua.LTable); ok {
				v = L.GetTable(t, L.Get(1))
			} else {
				top := L.GetTop()
				L.Push(repl)
				for i := 1; i <= top; i++ {
					L.Push(L.Get(i))
				}
				L.Call(top, 1)
				v = L.Get(-1)
			}
			if isStringy(v) {
				if out += len(lua.LVAsString(v)); out > m.maxStr {
					L.RaiseError("%s", m.build(out).Error())
				}
			}
			L.Push(v)
			return 1
		}))
		n := gsub(L)
		if err := m.build(out); err != nil {
			L.RaiseError("%s", err.Error())
		}
		return n
	default:
		return gsub(L) // the original raises the error
	}
}

// cat is the bounded `..`: the concatenation of its arguments, right to left as Lua does
// it, through __concat metamethods for operands that are not strings or numbers.
func cat(L *lua.LState, m *meter) int {
	top := L.GetTop()
	simple := true
	for i := 1; i <= top && simple; i++ {
		simple = isStringy(L.Get(i))
	}
	if simple {
		return catStrings(L, m, 1, top)
	}
	acc := L.Get(top)
	for i := top - 1; i >= 1; i-- {
		lhs := L.Get(i)
		if isStringy(lhs) && isStringy(acc) {
			L.SetTop(top)
			L.Push(lhs)
			L.Push(acc)
			catStrings(L, m, top+1, top+2)
			acc = L.Get(-1)
			continue
		}
		op := L.GetMetaField(lhs, "__concat")
		if op == lua.LNil {
			op = L.GetMetaField(acc, "__concat")
		}
		if op == lua.LNil {
			bad := lhs
			if isStringy(lhs) {
				bad = acc
			}
			L.RaiseError("attempt to concatenate a %s value", bad.Type().String())
		}
		L.Push(op)
		L.Push(lhs)
		L.Push(acc)
		L.Call(2, 1)
		acc = L.Get(-1)
	}
	L.SetTop(top)
	L.Push(acc)
	return 1
}

func isStringy(v lua.LValue) bool { t := v.Type(); return t == lua.LTString || t == lua.LTNumber }

// catStrings pushes the concatenation of the strings and numbers at stack slots i..j.
func catStrings(L *lua.LState, m *meter, i, j int) int {
	n := 0
	for k := i; k <= j; k++ {
		if s, ok := L.Get(k).(lua.LString); ok {
			n += len(s)
		} else {
			n += len(L.Get(k).String())
		}
	}
	if err := m.build(n); err != nil {
		L.RaiseError("%s", err.Error())
	}
	if j == i+1 {
		L.Push(lua.LString(lua.LVAsString(L.Get(i)) + lua.LVAsString(L.Get(j))))
		return 1
	}
	var b strings.Builder
	b.Grow(n)
	for k := i; k <= j; k++ {
		b.WriteString(lua.LVAsString(L.Get(k)))
	}
	L.Push(lua.LString(b.String()))
	return 1
}

package luapolicy

import (
	"fmt"
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
	for _, name := range []string{"find", "match", "gmatch"} {
		fn := orig(str, name)
		str.RawSetString(name, L.NewFunction(func(L *lua.LState) int {
			checkPattern(L, m, name == "find")
			return fn(L)
		}))
	}
	wrap(tab, "concat", concatSize)

	gsub := orig(str, "gsub")
	str.RawSetString("gsub", L.NewFunction(func(L *lua.LState) int { return boundedGsub(L, m, gsub) }))
	str.RawSetString("dump", lua.LNil)
	L.SetGlobal(catName, L.NewFunction(func(L *lua.LState) int { return cat(L, m) }))
	L.SetGlobal(indexName, L.NewFunction(func(L *lua.LState) int {
		checkIndex(L, m, L.Get(1))
		L.SetTop(1)
		return 1
	}))
	rawset := L.GetGlobal("rawset").(*lua.LFunction).GFunction
	L.SetGlobal("rawset", L.NewFunction(func(L *lua.LState) int {
		checkIndex(L, m, L.Get(2))
		return rawset(L)
	}))
	insert := orig(tab, "insert")
	tab.RawSetString("insert", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() >= 3 {
			checkIndex(L, m, L.Get(2))
		}
		return insert(L)
	}))
}

// formatSize bounds string.format's result: the format, each argument as a string, and
// each directive's width and precision, which have two digits at most, as in Lua 5.1.
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
		width, prec := 0, 0
		digits := 0
		for ; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
			width = 10*width + int(f[i]-'0')
			digits++
		}
		if i < len(f) && f[i] == '.' {
			pd := 0
			for i++; i < len(f) && f[i] >= '0' && f[i] <= '9'; i++ {
				prec = 10*prec + int(f[i]-'0')
				pd++
			}
			digits = max(digits, pd)
		}
		if digits > 2 {
			L.RaiseError("invalid format (width or precision too long)")
		}
		v := L.Get(arg)
		n += width + prec + 32 + len(lua.LVAsString(v))
		if !isStringy(v) {
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
	checkPattern(L, m, false)
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

// checkPattern refuses a pattern match whose worst case would run far past the run's time
// budget. gopher-lua matches patterns in Go, inside one VM instruction, by backtracking: a
// pattern with q repetitions (*, +, -, %b) may try (n+1)^q ways at each of n+1 starting
// positions of an n-byte subject, and no deadline can stop it meanwhile. The bound allows
// one step per nanosecond of the run's budget (10^6 for a 1ms call), refusing, say,
// ".-.-.-b" on 300 bytes but not "^(.-):(.-)$" on 900. The estimate is pessimistic
// (most patterns fail or succeed far sooner), and errs on the side of the deadline.
func checkPattern(L *lua.LState, m *meter, mayBePlain bool) {
	subject, pat := L.CheckString(1), L.CheckString(2)
	if mayBePlain && L.GetTop() >= 4 && lua.LVAsBool(L.Get(4)) {
		return
	}
	if steps := patternSteps(pat, len(subject)); steps > float64(m.limit.Nanoseconds()) {
		m.fail(fmt.Errorf("%w: pattern %q on a string of %d bytes may take %.3g steps, over the %v budget (one step per ns)", ErrTimeout, pat, len(subject), steps, m.limit))
		L.RaiseError("%s", m.err.Error())
	}
}

// patternSteps is the worst case of matching pat against n bytes (see checkPattern).
func patternSteps(pat string, n int) float64 {
	q := 0
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '%':
			if i+1 < len(pat) && pat[i+1] == 'b' {
				q++
			}
			i++
		case '[':
			i++
			if i < len(pat) && pat[i] == '^' {
				i++
			}
			for first := true; i < len(pat) && (first || pat[i] != ']'); first = false {
				if pat[i] == '%' {
					i++
				}
				i++
			}
		case '*', '+', '-':
			if i > 0 {
				q++
			}
		}
	}
	steps := math.Pow(float64(n+1), float64(q))
	if !strings.HasPrefix(pat, "^") {
		steps *= float64(n + 1)
	}
	return steps
}

// maxIndex bounds integer table keys. gopher-lua keeps every integer key from 1 to
// 2^26 in a table's array part, so t[n] = v allocates n slots at once (a gigabyte for
// n = 2^26) inside one instruction. 2^20 slots are 16 MB, the call budget.
const maxIndex = 1 << 20

// checkIndex raises a memory error for an integer key past maxIndex: the bounded form of
// every t[k] = v a script writes (see guardIndex), and of rawset and table.insert.
func checkIndex(L *lua.LState, m *meter, k lua.LValue) {
	n, ok := k.(lua.LNumber)
	if !ok || float64(n) <= maxIndex || float64(n) >= float64(lua.MaxArrayIndex) || float64(n) != math.Trunc(float64(n)) {
		return
	}
	m.fail(fmt.Errorf("%w: table index %v is over %d (an integer index allocates every slot below it)", ErrMemory, float64(n), maxIndex))
	L.RaiseError("%s", m.err.Error())
}

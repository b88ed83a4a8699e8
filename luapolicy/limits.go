package luapolicy

import (
	"fmt"
	"math"
	"strconv"
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
	L.SetGlobal(lenName, L.NewFunction(length))
	L.SetGlobal(indexName, L.NewFunction(func(L *lua.LState) int {
		checkIndex(L, m, L.Get(2), L.Get(1))
		L.SetTop(1)
		return 1
	}))
	rawset := L.GetGlobal("rawset").(*lua.LFunction).GFunction
	L.SetGlobal("rawset", L.NewFunction(func(L *lua.LState) int {
		checkIndex(L, m, L.Get(1), L.Get(2))
		return rawset(L)
	}))
	insert := orig(tab, "insert")
	tab.RawSetString("insert", L.NewFunction(func(L *lua.LState) int {
		if L.GetTop() >= 3 {
			checkIndex(L, m, L.Get(1), L.Get(2))
		}
		return insert(L)
	}))
	// unpack copies a table's elements onto the value stack, which the registry bound
	// stops; what it costs is charged.
	unpack := L.GetGlobal("unpack").(*lua.LFunction).GFunction
	L.SetGlobal("unpack", L.NewFunction(func(L *lua.LState) int {
		t := L.CheckTable(1)
		i, j := L.OptInt(2, 1), L.OptInt(3, t.Len())
		if j-i > registryMaxSize {
			L.RaiseError("too many results to unpack")
		}
		if err := m.charge(16 * int64(max(0, j-i+1))); err != nil {
			L.RaiseError("%s", err.Error())
		}
		return unpack(L)
	}))
}

// formatSize bounds string.format's result, and refuses what Lua 5.1 refuses:
// gopher-lua hands the format to Go's fmt.Sprintf, whose argument indexes (%[1]s) and
// verbs (%v, %T, ...) Lua does not have. A directive is %, flags from "-+ #0", a width and
// a precision of two digits at most, and one of cdiouxXeEfgGqs; its output is at most its
// width and precision, plus its argument as a string (four times it for %q's escapes).
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
		width := 0
		for d := 0; i < len(f) && f[i] >= '0' && f[i] <= '9'; i, d = i+1, d+1 {
			if d == 2 {
				L.RaiseError("invalid format (width or precision too long)")
			}
			width = 10*width + int(f[i]-'0')
		}
		prec := 0
		if i < len(f) && f[i] == '.' {
			i++
			for d := 0; i < len(f) && f[i] >= '0' && f[i] <= '9'; i, d = i+1, d+1 {
				if d == 2 {
					L.RaiseError("invalid format (width or precision too long)")
				}
				prec = 10*prec + int(f[i]-'0')
			}
		}
		if i >= len(f) || strings.IndexByte("cdiouxXeEfgGqs", f[i]) < 0 {
			L.RaiseError("invalid option in format (Lua 5.1 directives only)")
		}
		v := L.Get(arg)
		size := len(lua.LVAsString(v))
		if !isStringy(v) {
			size = len(v.String())
		}
		if f[i] == 'q' {
			size = 4*size + 2
		}
		n += width + prec + 32 + size
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
// Each number is formatted once (integers with strconv, not fmt).
func catStrings(L *lua.LState, m *meter, i, j int) int {
	var buf [8]string
	parts := buf[:0]
	n := 0
	for k := i; k <= j; k++ {
		s := catString(L.Get(k))
		parts = append(parts, s)
		n += len(s)
	}
	if err := m.build(n); err != nil {
		L.RaiseError("%s", err.Error())
	}
	if len(parts) == 2 {
		L.Push(lua.LString(parts[0] + parts[1]))
		return 1
	}
	L.Push(lua.LString(strings.Join(parts, "")))
	return 1
}

// catString is a string or number operand of .. as a string, as gopher-lua formats it.
func catString(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		if f := float64(v); f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return strconv.FormatInt(int64(f), 10)
		}
		return v.String()
	}
	return ""
}

// nsPerStep is what one step of gopher-lua's pattern matcher costs, about: 8 to 25ns
// measured here.
const nsPerStep = 10

// checkPattern refuses a pattern match whose worst case would run past the run's time
// budget. gopher-lua matches patterns in Go, inside one VM instruction, by backtracking: a
// pattern with q repetitions (*, +, -, %b) may try (n+1)^q ways at each of n+1 starting
// positions of an n-byte subject (one for a pattern anchored with ^), and no deadline can
// stop it meanwhile. The worst cases of a run's matches add up, and may not pass one step
// per nsPerStep of the run's budget (10^5 for a 1ms call): "a*b" on 300 bytes passes,
// on 400 it is refused; "^(.-):(.-)$" passes on 300 bytes. The estimate is pessimistic
// (most matches end far sooner) and errs on the side of the deadline.
func checkPattern(L *lua.LState, m *meter, mayBePlain bool) {
	subject, pat := L.CheckString(1), L.CheckString(2)
	if mayBePlain && L.GetTop() >= 4 && lua.LVAsBool(L.Get(4)) {
		return
	}
	steps := patternSteps(pat, len(subject))
	if m.patterns += steps; m.patterns > float64(m.limit.Nanoseconds())/nsPerStep {
		m.fail(fmt.Errorf("%w: pattern %q on a string of %d bytes may take %.3g steps; the run may take %.3g in all (one per %dns of its %v)", ErrTimeout, pat, len(subject), steps, float64(m.limit.Nanoseconds())/nsPerStep, nsPerStep, m.limit))
		L.RaiseError("%s", m.err.Error())
	}
}

// patternSteps is the worst case of matching pat against n bytes (see checkPattern).
func patternSteps(pat string, n int) float64 {
	q, opt := 0, 0
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
		case '?':
			if i > 0 {
				opt++
			}
		}
	}
	// An optional item doubles the ways to try: "a?a?a?aaa" backtracks 2^3 times.
	steps := math.Pow(float64(n+1), float64(q)) * math.Pow(2, float64(opt))
	if !strings.HasPrefix(pat, "^") {
		steps *= float64(n + 1)
	}
	return steps
}

// maxIndex bounds integer table keys. gopher-lua keeps every integer key from 1 to
// 2^26 in a table's array part, so t[n] = v allocates n slots at once (a gigabyte for
// n = 2^26) inside one instruction, and #t then scans back over every nil slot. 2^16
// slots are 1 MiB, a scan of them tens of microseconds; more such stores are caught by
// the allocation check every 256 instructions.
const maxIndex = 1 << 16

// checkIndex is the bounded form of every t[k] = v a script writes (see guardIndex), and
// of rawset and table.insert: an integer key past maxIndex is a memory error, and the
// slots a store past the end of t's array creates are charged to the run's budget (t is
// nil when the rewrite could not name the table: then only the bound applies).
func checkIndex(L *lua.LState, m *meter, t lua.LValue, k lua.LValue) {
	n, ok := k.(lua.LNumber)
	if !ok || n < 2 || float64(n) >= float64(lua.MaxArrayIndex) || float64(n) != math.Trunc(float64(n)) {
		return
	}
	if float64(n) > maxIndex {
		m.fail(fmt.Errorf("%w: table index %v is over %d (an integer index allocates every slot below it)", ErrMemory, float64(n), maxIndex))
		L.RaiseError("%s", m.err.Error())
	}
	if tb, ok := t.(*lua.LTable); ok {
		if gap := int(n) - border(tb) - 1; gap > 64 {
			// 16 bytes a slot, grown by appends: about three times that allocated.
			if err := m.charge(48 * int64(gap)); err != nil {
				L.RaiseError("%s", err.Error())
			}
		}
	}
}

// length is the bounded #: a string's length, a __len metamethod's answer, or a border of
// a table (an n with t[n] ~= nil and t[n+1] == nil, or 0) found in O(log n) probes.
func length(L *lua.LState) int {
	switch v := L.Get(1).(type) {
	case lua.LString:
		L.Push(lua.LNumber(len(v)))
		return 1
	case *lua.LTable:
		if op := L.GetMetaField(v, "__len"); op.Type() == lua.LTFunction {
			L.Push(op)
			L.Push(v)
			L.Call(1, 1)
			return 1
		}
		L.Push(lua.LNumber(border(v)))
		return 1
	default:
		if op := L.GetMetaField(v, "__len"); op.Type() == lua.LTFunction {
			L.Push(op)
			L.Push(v)
			L.Call(1, 1)
			return 1
		}
		L.RaiseError("attempt to get length of a %s value", v.Type().String())
		return 0
	}
}

// border finds a border of t by doubling then bisection (PUC Lua's unbound_search).
func border(t *lua.LTable) int {
	if t.RawGetInt(1) == lua.LNil {
		return 0
	}
	i, j := 1, 2
	for t.RawGetInt(j) != lua.LNil {
		i = j
		if j > lua.MaxArrayIndex/2 {
			return t.Len() // a table that large does not exist under maxIndex
		}
		j *= 2
	}
	for j-i > 1 { // t[i] ~= nil, t[j] == nil
		m := (i + j) / 2
		if t.RawGetInt(m) == lua.LNil {
			j = m
		} else {
			i = m
		}
	}
	return i
}

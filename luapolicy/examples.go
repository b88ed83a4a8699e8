package luapolicy

import (
	"context"
	"fmt"
	"slices"

	lua "github.com/yuin/gopher-lua"
)

// example is one of a policy's own test cases: the arguments of a call (and, for ttl, a
// loaded value) and what the per-call functions must answer. A version whose examples
// fail is rejected before it goes live.
type example struct {
	n      int         // its position in the list, from 1
	args   *lua.LTable // the call's arguments
	value  lua.LValue  // the loaded value passed to ttl
	key    lua.LValue  // the key the key function must return, or nil
	bypass lua.LValue  // what bypass must answer, or nil
	ttl    lua.LValue  // what ttl must answer, or nil
}

var exampleFields = []string{"args", "value", "key", "bypass", "ttl"}

// maxExamples bounds a policy's examples; all of them share the load's LoadTimeout.
const maxExamples = 100

func parseExamples(st setting, p *policy) ([]example, error) {
	v := st.t.RawGetString("examples")
	if v == lua.LNil {
		return nil, nil
	}
	list, ok := v.(*lua.LTable)
	if !ok {
		return nil, st.errorf("examples", "want a list of examples, got %s", v.Type())
	}
	if list.Len() > maxExamples {
		return nil, st.errorf("examples", "%d examples; a policy may have %d", list.Len(), maxExamples)
	}
	var out []example
	for i := 1; i <= list.Len(); i++ {
		t, ok := list.RawGetInt(i).(*lua.LTable)
		if !ok {
			return nil, st.errorf("examples", "example %d: want a table, got %s", i, list.RawGetInt(i).Type())
		}
		var err error
		t.ForEach(func(k, _ lua.LValue) {
			if err == nil && !slices.Contains(exampleFields, lua.LVAsString(k)) {
				err = st.errorf("examples", "example %d: unknown field %s (known: args, value, key, bypass, ttl)", i, k.String())
			}
		})
		if err != nil {
			return nil, err
		}
		ex := example{n: i, value: t.RawGetString("value"), key: t.RawGetString("key"), bypass: t.RawGetString("bypass"), ttl: t.RawGetString("ttl")}
		switch a := t.RawGetString("args").(type) {
		case *lua.LTable:
			ex.args = a
		case *lua.LNilType:
		default:
			ex.args = nil
			return nil, st.errorf("examples", "example %d: args: want a list, got %s", i, a.Type())
		}
		switch {
		case ex.key != lua.LNil && !p.key:
			return nil, st.errorf("examples", "example %d: expects a key, but the policy has no key function", i)
		case ex.ttl != lua.LNil && !p.ttl:
			return nil, st.errorf("examples", "example %d: expects a ttl, but the policy has no ttl function", i)
		case ex.bypass != lua.LNil && ex.bypass.Type() != lua.LTBool:
			return nil, st.errorf("examples", "example %d: bypass: want a boolean, got %s", i, ex.bypass.Type())
		}
		out = append(out, ex)
	}
	return out, nil
}

// check runs p's examples on v, the version's first state.
func (ex example) check(v *vm, p *policy) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %spolicy %q: example %d: %s", ErrRejected, v.ver.script.lines.at(v.ver.script.name, p.name+".examples"), p.name, ex.n, fmt.Sprintf(format, args...))
	}
	args := ex.args
	if args == nil {
		args = v.L.NewTable()
	}
	call := v.L.NewTable()
	call.RawSetString("func", lua.LString(p.name))
	call.RawSetString("key", lua.LString(""))
	call.RawSetString("args", args)
	limit := v.ver.loadLimit()
	if limit <= 1 {
		return fail("%v: the load ran out of its %v before this example", ErrTimeout, v.ver.e.cfg.loadTimeout)
	}
	v.m.start(context.Background(), limit, v.ver.e.cfg.loadMemory)
	if ex.bypass != lua.LNil {
		got := p.rules.Bypass
		if p.bypass {
			b, err := v.bypassOf(v.fns[p.idx].bypass, call)
			if err != nil {
				return fail("%v", err)
			}
			got = b
		}
		if got != bool(ex.bypass.(lua.LBool)) {
			return fail("bypass answered %v, want %v", got, ex.bypass)
		}
	}
	if ex.key != lua.LNil {
		got, err := v.keyOf(v.fns[p.idx].key, call)
		if err != nil {
			return fail("%v", err)
		}
		if want := lua.LVAsString(ex.key); got != want {
			if got == "" {
				return fail("key returned nil (the default key), want %q", want)
			}
			return fail("key returned %q, want %q", got, want)
		}
	}
	if ex.ttl != lua.LNil {
		got, err := v.ttlOf(v.fns[p.idx].ttl, call, ex.value)
		if err != nil {
			return fail("%v", err)
		}
		want, err := ttlResult(ex.ttl)
		if err != nil {
			return fail("ttl: %v", err)
		}
		if got != want {
			return fail("ttl returned %v, want %v", describeTTL(got), describeTTL(want))
		}
	}
	return nil
}

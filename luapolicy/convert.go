package luapolicy

import (
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	lua "github.com/yuin/gopher-lua"
)

// Bounds on the Go values a call shows a script: deeper or larger values are an error for
// the call (which falls back) rather than a long copy on every call.
const (
	maxDepth    = 8
	maxElements = 10000
)

// converter turns Go values into Lua values for one run. A converter is used by one
// goroutine at a time; fields caches struct layouts across runs and is safe for
// concurrent use.
type converter struct {
	L       *lua.LState
	headers []string // the request headers scripts may see
	left    int      // elements left in this run's budget
	fields  *sync.Map
}

// value converts x. The conversion is documented in the package README:
//
//	nil, nil pointers and values of other kinds  nil
//	bool                                         boolean
//	integers, floats                             number (integers beyond ±2^53 as strings, exact)
//	string, []byte                               string
//	time.Duration                                number of seconds
//	time.Time                                    number of Unix seconds
//	struct, *struct                              table of exported fields, named by their
//	                                             lua tag, else json tag, else Go name
//	map with string, number or bool keys         table
//	slice, array                                 list (1-based; a nil slice or map is an empty table)
//	*http.Request                                {method, host, path, route, query, header}
func (c *converter) value(x any, depth int) (lua.LValue, error) {
	switch x := x.(type) {
	case nil:
		return lua.LNil, nil
	case string:
		return lua.LString(x), nil
	case int:
		return intValue(int64(x)), nil
	case int64:
		return intValue(x), nil
	case int32:
		return lua.LNumber(x), nil
	case uint64:
		if x > 1<<53 {
			return lua.LString(strconv.FormatUint(x, 10)), nil
		}
		return lua.LNumber(x), nil
	case float64:
		return lua.LNumber(x), nil
	case bool:
		return lua.LBool(x), nil
	case []byte:
		return lua.LString(x), nil
	case time.Duration:
		return lua.LNumber(x.Seconds()), nil
	case time.Time:
		return lua.LNumber(float64(x.UnixNano()) / 1e9), nil
	case *http.Request:
		if x == nil {
			return lua.LNil, nil
		}
		return c.request(x), nil
	}
	return c.reflect(reflect.ValueOf(x), depth)
}

func intValue(n int64) lua.LValue {
	if n > 1<<53 || n < -(1<<53) {
		return lua.LString(strconv.FormatInt(n, 10))
	}
	return lua.LNumber(n)
}

func (c *converter) spend(n int) error {
	if c.left -= n; c.left < 0 {
		return fmt.Errorf("%w: the call's arguments are too large for a policy (over %d elements)", ErrScript, maxElements)
	}
	return nil
}

func (c *converter) reflect(v reflect.Value, depth int) (lua.LValue, error) {
	if depth > maxDepth {
		return lua.LNil, fmt.Errorf("%w: the call's arguments are nested deeper than %d", ErrScript, maxDepth)
	}
	switch v.Kind() {
	case reflect.Invalid:
		return lua.LNil, nil
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return lua.LNil, nil
		}
		if v.Kind() == reflect.Pointer && v.Type().Elem() == reflect.TypeFor[http.Request]() {
			return c.request(v.Interface().(*http.Request)), nil
		}
		return c.reflect(v.Elem(), depth+1)
	case reflect.Bool:
		return lua.LBool(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == reflect.TypeFor[time.Duration]() {
			return lua.LNumber(time.Duration(v.Int()).Seconds()), nil
		}
		return intValue(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if u := v.Uint(); u > 1<<53 {
			return lua.LString(strconv.FormatUint(u, 10)), nil
		}
		return lua.LNumber(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		return lua.LNumber(v.Float()), nil
	case reflect.String:
		return lua.LString(v.String()), nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return lua.LString(v.Bytes()), nil
		}
		if err := c.spend(v.Len()); err != nil {
			return lua.LNil, err
		}
		t := c.L.CreateTable(v.Len(), 0)
		for i := 0; i < v.Len(); i++ {
			e, err := c.reflect(v.Index(i), depth+1)
			if err != nil {
				return lua.LNil, err
			}
			t.RawSetInt(i+1, e)
		}
		return t, nil
	case reflect.Map:
		if err := c.spend(v.Len()); err != nil {
			return lua.LNil, err
		}
		t := c.L.CreateTable(0, v.Len())
		it := v.MapRange()
		for it.Next() {
			k, err := c.reflect(it.Key(), depth+1)
			if err != nil {
				return lua.LNil, err
			}
			if k == lua.LNil {
				continue
			}
			e, err := c.reflect(it.Value(), depth+1)
			if err != nil {
				return lua.LNil, err
			}
			t.RawSet(k, e)
		}
		return t, nil
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			return c.value(v.Interface(), depth)
		}
		fs := c.structFields(v.Type())
		if err := c.spend(len(fs)); err != nil {
			return lua.LNil, err
		}
		t := c.L.CreateTable(0, len(fs))
		for _, f := range fs {
			fv, err := v.FieldByIndexErr(f.index)
			if err != nil {
				continue // through a nil embedded pointer
			}
			e, err := c.reflect(fv, depth+1)
			if err != nil {
				return lua.LNil, err
			}
			t.RawSetString(f.name, e)
		}
		return t, nil
	}
	return lua.LNil, nil
}

type field struct {
	name  string
	index []int
}

// structFields lists the exported fields of a struct type as scripts name them,
// embedded structs' fields promoted as encoding/json promotes them.
func (c *converter) structFields(t reflect.Type) []field {
	if fs, ok := c.fields.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for _, f := range reflect.VisibleFields(t) {
		if !f.IsExported() {
			continue
		}
		name, tagged := f.Name, false
		for _, key := range []string{"lua", "json"} {
			if tag, ok := f.Tag.Lookup(key); ok {
				n, _, _ := strings.Cut(tag, ",")
				if n == "-" {
					name = ""
				} else if n != "" {
					name = n
				}
				tagged = true
				break
			}
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if name == "" || f.Anonymous && !tagged && ft.Kind() == reflect.Struct {
			continue // skipped, or an embedded struct whose fields are promoted
		}
		fs = append(fs, field{name, f.Index})
	}
	c.fields.Store(t, fs)
	return fs
}

// request shows an HTTP request: method, host, path, the chi route pattern when the
// request was routed by chi, the query (each parameter's first value) and the headers the
// policy lists in its headers setting (keys in lower case), nothing else: a script cannot
// read an Authorization header or a cookie unless the policy names it.
func (c *converter) request(r *http.Request) lua.LValue {
	t := c.L.CreateTable(0, 6)
	t.RawSetString("method", lua.LString(r.Method))
	t.RawSetString("host", lua.LString(r.Host))
	t.RawSetString("path", lua.LString(r.URL.Path))
	route := ""
	if rc := chi.RouteContext(r.Context()); rc != nil {
		route = rc.RoutePattern()
	}
	t.RawSetString("route", lua.LString(route))
	q := c.L.NewTable()
	for k, vs := range r.URL.Query() {
		if len(vs) > 0 && c.spend(1) == nil {
			q.RawSetString(k, lua.LString(vs[0]))
		}
	}
	t.RawSetString("query", q)
	h := c.L.NewTable()
	for _, name := range c.headers {
		if v := r.Header.Get(name); v != "" {
			h.RawSetString(strings.ToLower(name), lua.LString(v))
		}
	}
	t.RawSetString("header", h)
	return t
}

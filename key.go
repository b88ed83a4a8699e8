package cached

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"
)

// Keys are built as escape(namespace) ":" escape(name) ":" escape(version) ":" args, where
// args is escape(arg) for one argument and escape(a) ":" escape(b) for two. escape turns
// '%' into "%25" and ':' into "%3A", so a segment never holds a ':' and every key has
// exactly one reading: Wrap2("a:b", "c") and Wrap2("a", "b:c") give "a%3Ab:c" and
// "a:b%3Ac". Keys are readable for the common case (ids and plain strings are unchanged).
// A Store that has its own limits (memcached: 250 bytes, no spaces) maps them further.

// The replacers are immutable once built, and safe for concurrent use.
var (
	escaper   = strings.NewReplacer("%", "%25", ":", "%3A")
	unescaper = strings.NewReplacer("%3A", ":", "%25", "%")
)

func escape(s string) string {
	if !strings.ContainsAny(s, "%:") {
		return s
	}
	return escaper.Replace(s)
}

func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	return unescaper.Replace(s)
}

var (
	stringerType      = reflect.TypeFor[fmt.Stringer]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// keyCodec turns one argument into its string form and, where the form can be read back,
// back (so that a Bus message naming a key can find the in-process entry).
type keyCodec[K any] struct {
	enc func(K) (string, error)
	dec func(string) (K, bool) // nil when the form cannot be read back
}

// keyCodecFor picks the string form of K: a KeyFunc given for K, else String, else
// MarshalText, else the value of a string, integer or bool kind. ok is false when K has
// none of these.
func keyCodecFor[K any](keyFuncs []any) (kc keyCodec[K], ok bool) {
	for i := len(keyFuncs) - 1; i >= 0; i-- {
		if fn, ok := keyFuncs[i].(func(K) string); ok {
			return keyCodec[K]{enc: func(k K) (string, error) { return fn(k), nil }}, true
		}
	}
	t := reflect.TypeFor[K]()
	if t.Kind() == reflect.Interface {
		return kc, false // the dynamic type decides; ask for a KeyFunc
	}
	switch {
	case t.Implements(stringerType):
		// String's output need not read back as a value of the kind: no dec.
		kc.enc = func(k K) (string, error) { return any(k).(fmt.Stringer).String(), nil }
		return kc, true
	case t.Implements(textMarshalerType):
		kc.enc = func(k K) (string, error) {
			b, err := any(k).(encoding.TextMarshaler).MarshalText()
			return string(b), err
		}
		if reflect.PointerTo(t).Implements(textUnmarshalType) {
			kc.dec = func(s string) (K, bool) {
				var k K
				err := any(&k).(encoding.TextUnmarshaler).UnmarshalText([]byte(s))
				return k, err == nil
			}
		}
		return kc, true
	}
	switch t.Kind() {
	case reflect.String:
		kc.enc = func(k K) (string, error) {
			if s, ok := any(k).(string); ok {
				return s, nil
			}
			return reflect.ValueOf(k).String(), nil
		}
		kc.dec = func(s string) (K, bool) {
			var k K
			reflect.ValueOf(&k).Elem().SetString(s)
			return k, true
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		kc.enc = func(k K) (string, error) {
			if i, ok := any(k).(int64); ok {
				return strconv.FormatInt(i, 10), nil
			}
			return strconv.FormatInt(reflect.ValueOf(k).Int(), 10), nil
		}
		kc.dec = func(s string) (K, bool) {
			var k K
			v := reflect.ValueOf(&k).Elem()
			i, err := strconv.ParseInt(s, 10, v.Type().Bits())
			v.SetInt(i)
			return k, err == nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		kc.enc = func(k K) (string, error) { return strconv.FormatUint(reflect.ValueOf(k).Uint(), 10), nil }
		kc.dec = func(s string) (K, bool) {
			var k K
			v := reflect.ValueOf(&k).Elem()
			u, err := strconv.ParseUint(s, 10, v.Type().Bits())
			v.SetUint(u)
			return k, err == nil
		}
	case reflect.Bool:
		kc.enc = func(k K) (string, error) { return strconv.FormatBool(reflect.ValueOf(k).Bool()), nil }
		kc.dec = func(s string) (K, bool) {
			var k K
			b, err := strconv.ParseBool(s)
			reflect.ValueOf(&k).Elem().SetBool(b)
			return k, err == nil
		}
	}
	return kc, kc.enc != nil
}

// mustKeyCodec is keyCodecFor, panicking with what to pass when K has no string form.
func mustKeyCodec[K any](fn string, keyFuncs []any) keyCodec[K] {
	kc, ok := keyCodecFor[K](keyFuncs)
	if !ok {
		t := reflect.TypeFor[K]()
		panic(fmt.Sprintf("cached: %s: key type %v has no string form: pass cached.KeyFunc(func(%v) string { ... })", fn, t, t))
	}
	return kc
}

// argCodec is keyCodec for a function's whole argument list, escaped.
type argCodec[K any] struct {
	enc func(K) (string, error)
	dec func(string) (K, bool)
}

func singleArg[K any](kc keyCodec[K]) argCodec[K] {
	ac := argCodec[K]{enc: func(k K) (string, error) {
		s, err := kc.enc(k)
		return escape(s), err
	}}
	if kc.dec != nil {
		ac.dec = func(s string) (K, bool) {
			if strings.Contains(s, ":") {
				return *new(K), false
			}
			return kc.dec(unescape(s))
		}
	}
	return ac
}

// pair is the key of a two-argument function.
type pair[A, B comparable] struct {
	a A
	b B
}

func pairArgs[A, B comparable](ka keyCodec[A], kb keyCodec[B]) argCodec[pair[A, B]] {
	ac := argCodec[pair[A, B]]{enc: func(p pair[A, B]) (string, error) {
		a, err := ka.enc(p.a)
		if err != nil {
			return "", err
		}
		b, err := kb.enc(p.b)
		return escape(a) + ":" + escape(b), err
	}}
	if ka.dec != nil && kb.dec != nil {
		ac.dec = func(s string) (pair[A, B], bool) {
			as, bs, ok := strings.Cut(s, ":")
			if !ok || strings.Contains(bs, ":") {
				return pair[A, B]{}, false
			}
			a, oka := ka.dec(unescape(as))
			b, okb := kb.dec(unescape(bs))
			return pair[A, B]{a, b}, oka && okb
		}
	}
	return ac
}

func noArgs() argCodec[struct{}] {
	return argCodec[struct{}]{
		enc: func(struct{}) (string, error) { return "", nil },
		dec: func(s string) (struct{}, bool) { return struct{}{}, s == "" },
	}
}

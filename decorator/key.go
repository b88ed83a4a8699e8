package decorator

import (
	"context"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/cachedgo/cached"
)

// Key returns the string form of a composite key, the parts in order, each escaped so
// that the result has one reading: Key("a:b", "c") and Key("a", "b:c") differ. A part is
// written as the engine writes a key of its type: String for a fmt.Stringer, MarshalText
// for an encoding.TextMarshaler, else the value of a string, integer, bool or float kind.
// The generator accepts only parts of those types; Key writes any other with %v.
func Key(parts ...any) string {
	if len(parts) == 1 {
		return escape(part(parts[0]))
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(escape(part(p)))
	}
	return b.String()
}

var escaper = strings.NewReplacer("%", "%25", ":", "%3A")

func escape(s string) string {
	if !strings.ContainsAny(s, "%:") {
		return s
	}
	return escaper.Replace(s)
}

func part(p any) string {
	switch v := p.(type) {
	case string:
		return v
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case fmt.Stringer:
		return v.String()
	case encoding.TextMarshaler:
		b, err := v.MarshalText()
		if err != nil {
			return fmt.Sprintf("%v", p)
		}
		return string(b)
	}
	rv := reflect.ValueOf(p)
	switch rv.Kind() {
	case reflect.String:
		return rv.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(rv.Uint(), 10)
	case reflect.Bool:
		return strconv.FormatBool(rv.Bool())
	case reflect.Float32, reflect.Float64:
		return strconv.FormatFloat(rv.Float(), 'g', -1, rv.Type().Bits())
	}
	return fmt.Sprintf("%v", p)
}

// argsKey is the context key of the arguments of a call cached under a key expression.
type argsKey struct{}

// ErrNoArgs is returned by a generated loader that finds no arguments in its context.
// It means the loader was called other than through its decorator's method.
var ErrNoArgs = errors.New("decorator: the call's arguments are not in its context")

// WithArgs returns ctx carrying args, the arguments of a method whose cache key is a key
// expression (key=q.ID): the key names the value, and the loader, which receives only the
// key, reads the arguments to call the method with from its context. Calls with equal keys
// are the same call by the annotation's definition, so the loader of a shared flight
// calling with the first caller's arguments answers them all.
func WithArgs[A any](ctx context.Context, args A) context.Context {
	return context.WithValue(ctx, argsKey{}, args)
}

// ArgsOf returns the arguments [WithArgs] put in ctx, or [ErrNoArgs].
func ArgsOf[A any](ctx context.Context) (A, error) {
	a, ok := ctx.Value(argsKey{}).(A)
	if !ok {
		return a, ErrNoArgs
	}
	return a, nil
}

// One returns the single-key form of a batch loader, as cached.WrapBatch builds it: the
// loader of a cached function that only a batch method reads, used by Get, Refresh and
// background refreshes. A key the batch leaves out of its map is cached.ErrNotFound.
func One[K comparable, V any](batch func(context.Context, []K) (map[K]V, error)) func(context.Context, K) (V, error) {
	return func(ctx context.Context, k K) (V, error) {
		m, err := batch(ctx, []K{k})
		if err != nil {
			var zero V
			return zero, err
		}
		v, ok := m[k]
		if !ok {
			return v, cached.ErrNotFound
		}
		return v, nil
	}
}

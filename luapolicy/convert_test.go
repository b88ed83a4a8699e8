package luapolicy_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachedgo/cached"
	"github.com/cachedgo/cached/luapolicy"
	"github.com/go-chi/chi/v5"
)

// show returns what a script sees of arg, as the key function's return value.
const show = `
  local function dump(v, depth)
    if type(v) ~= "table" then return type(v) .. ":" .. tostring(v) end
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    local parts = {}
    for _, k in ipairs(keys) do
      local val = v[k]
      if val == nil then val = v[tonumber(k)] end
      parts[#parts + 1] = k .. "=" .. dump(val, depth + 1)
    end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  return { f = { headers = { "Accept-Language" }, key = function(call) return dump(call.args[1], 0) end } }`

type Address struct {
	City string `json:"city"`
}

type user struct {
	Address         // promoted: city
	ID      int64   `json:"id"`
	Name    string  `lua:"name" json:"full_name"`
	Email   string  `json:"-"`
	Score   float64 // no tag: Go name
	Tags    []string
	Meta    map[string]int
	Manager *user
	secret  string
}

func TestArgumentConversion(t *testing.T) {
	e := mustLoad(t, show, luapolicy.MaxKeyLen(4096))
	for _, tc := range []struct {
		name string
		arg  any
		want string
	}{
		{"int", 42, "number:42"},
		{"big int exact", int64(1<<53 + 1), "string:9007199254740993"},
		{"uint", uint8(7), "number:7"},
		{"float", 1.5, "number:1.5"},
		{"bool", true, "boolean:true"},
		{"bytes", []byte("ab"), "string:ab"},
		{"duration", 90 * time.Second, "number:90"},
		{"time", time.Unix(1700000000, 0), "number:1700000000"},
		{"nil pointer", (*user)(nil), "nil:nil"},
		{"func", func() {}, "nil:nil"},
		{"struct", user{Address: Address{"Oslo"}, ID: 7, Name: "Ann", Email: "a@x", Score: 2, Tags: []string{"x"}, Meta: map[string]int{"n": 1}, secret: "s"},
			"{Meta={n=number:1},Score=number:2,Tags={1=string:x},city=string:Oslo,id=number:7,name=string:Ann}"},
		{"pointer to struct", &user{ID: 1, Manager: &user{ID: 2}}, "{Manager={Meta={},Score=number:0,Tags={},city=string:,id=number:2,name=string:},Meta={},Score=number:0,Tags={},city=string:,id=number:1,name=string:}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := decide(e, context.Background(), tc.arg)
			if err != nil {
				t.Fatal(err)
			}
			if d.Key != tc.want {
				t.Errorf("script sees %s; want %s", d.Key, tc.want)
			}
		})
	}
}

func TestRequestConversion(t *testing.T) {
	e := mustLoad(t, show, luapolicy.MaxKeyLen(4096))
	var got string
	r := chi.NewRouter()
	r.Get("/users/{id}", func(w http.ResponseWriter, req *http.Request) {
		d, err := decide(e, req.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		got = d.Key
	})
	req := httptest.NewRequest("GET", "http://api.example/users/7?b=2&a=1&a=9", nil)
	req.Header.Set("Accept-Language", "nb")
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Cookie", "session=secret")
	r.ServeHTTP(httptest.NewRecorder(), req)
	want := "{header={accept-language=string:nb},host=string:api.example,method=string:GET,path=string:/users/7,query={a=string:1,b=string:2},route=string:/users/{id}}"
	if got != want {
		t.Errorf("script sees %s;\nwant %s\n(only the headers the policy lists: never Authorization or Cookie)", got, want)
	}
}

func TestArgumentLimits(t *testing.T) {
	e := mustLoad(t, `return { f = { key = function(call) return "k" end } }`)
	type node struct{ Next *node }
	deep := &node{}
	for n, i := deep, 0; i < 20; i++ {
		n.Next = &node{}
		n = n.Next
	}
	for _, tc := range []struct {
		name string
		arg  any
		want string
	}{
		{"deep", deep, "nested deeper than 8"},
		{"large", make([]int, 20000), "too large for a policy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Rules("f").Decide(context.Background(), cached.Call{Func: "f", Args: []any{tc.arg}})
			if !errors.Is(err, luapolicy.ErrScript) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v; want ErrScript: %s", err, tc.want)
			}
		})
	}
}

type Inner struct{ X int }

func TestEmbeddedPointerPromoted(t *testing.T) {
	e := mustLoad(t, show, luapolicy.MaxKeyLen(4096))
	d, err := decide(e, context.Background(), struct {
		*Inner
		Z int
	}{&Inner{1}, 2})
	if want := "{X=number:1,Z=number:2}"; err != nil || d.Key != want {
		t.Errorf("script sees %s, %v; want %s: an embedded *struct's fields are promoted, as encoding/json does", d.Key, err, want)
	}
}

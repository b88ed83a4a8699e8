package cached

import (
	"strings"
	"testing"
)

// FuzzPairKeys: two-argument keys never collide and read back as the arguments they came
// from (a Bus invalidation finds the entry by decoding them).
func FuzzPairKeys(f *testing.F) {
	for _, s := range [][4]string{
		{"a:b", "c", "a", "b:c"},
		{"%3A", "", ":", ""},
		{"", "", "", ":"},
		{"x%", "25", "x", "%25"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	sc := mustKeyCodec[string]("fuzz", nil)
	ac := pairArgs(sc, sc)
	f.Fuzz(func(t *testing.T, a, b, c, d string) {
		k1, err1 := ac.enc(pair[string, string]{a, b})
		k2, err2 := ac.enc(pair[string, string]{c, d})
		if err1 != nil || err2 != nil {
			t.Fatalf("enc errors: %v, %v", err1, err2)
		}
		if (k1 == k2) != (a == c && b == d) {
			t.Fatalf("(%q, %q) -> %q and (%q, %q) -> %q", a, b, k1, c, d, k2)
		}
		p, ok := ac.dec(k1)
		if !ok || p.a != a || p.b != b {
			t.Fatalf("dec(%q) = %q, %q, %v; want %q, %q", k1, p.a, p.b, ok, a, b)
		}
		if seg := escape(a); strings.Contains(seg, ":") || unescape(seg) != a {
			t.Fatalf("escape(%q) = %q", a, seg)
		}
	})
}

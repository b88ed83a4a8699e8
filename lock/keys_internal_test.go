package lock

import (
	"strings"
	"testing"
)

func TestLockName(t *testing.T) {
	long := strings.Repeat("x", maxPlainKey+1)
	for _, tc := range []struct {
		key   string
		plain bool
	}{
		{"ns:user:v1:42", true},
		{"a%3Ab", true},
		{"a/b", false},
		{"", false},
		{"space key", false},
		{"caf\u00e9", false},
		{long[:maxPlainKey], true},
		{long, false},
	} {
		got := lockName(tc.key)
		if (got == tc.key) != tc.plain {
			t.Errorf("lockName(%q) = %q; want plain: %v", tc.key, got, tc.plain)
		}
		if strings.Contains(got, "/") || len(got) > maxPlainKey {
			t.Errorf("lockName(%q) = %q: has a slash or is too long", tc.key, got)
		}
	}
	if lockName(long) == lockName(long+"y") || lockName("a/b") == lockName("a/c") {
		t.Error("distinct keys share a lock name")
	}
	if lockName("#x") == "#x" {
		t.Error(`"#x" is kept as is: it could be another key's hash`)
	}
}

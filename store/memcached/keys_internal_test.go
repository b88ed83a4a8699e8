package memcached

import (
	"strings"
	"testing"
	"time"
)

func TestSafeKey(t *testing.T) {
	long := strings.Repeat("k", 300)
	for _, tc := range []struct {
		key       string
		unchanged bool
	}{
		{"cached:user::42", true},
		{"", false},
		{"with space", false},
		{"tab\tkey", false},
		{"nul\x00", false},
		{"ünï", false},
		{"has#hash", false},
		{strings.Repeat("k", 250), true},
		{long, false},
	} {
		got := safeKey(tc.key)
		if (got == tc.key) != tc.unchanged {
			t.Errorf("safeKey(%q) = %q; unchanged = %v, want %v", tc.key, got, got == tc.key, tc.unchanged)
		}
		if len(got) > maxKeyLen || got == "" || !plain(got) {
			t.Errorf("safeKey(%q) = %q: not a key memcached accepts", tc.key, got)
		}
	}
	if a, b := safeKey(long), safeKey(long[:299]+"x"); a == b {
		t.Errorf("two long keys with a shared prefix map to one key %q", a)
	}
	if got := safeKey("user name"); !strings.HasPrefix(got, "user_name#") {
		t.Errorf("safeKey keeps no readable prefix: %q", got)
	}
}

// FuzzSafeKey: every key maps to a legal memcached key, and distinct keys to distinct
// keys (a hashed form always holds '#', an unchanged key never does).
func FuzzSafeKey(f *testing.F) {
	f.Add("a", "b")
	f.Add("x#0", "x")
	f.Add("", " ")
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, kb := safeKey(a), safeKey(b)
		if len(ka) > maxKeyLen || ka == "" || !plain(ka) {
			t.Fatalf("safeKey(%q) = %q: illegal", a, ka)
		}
		if a != b && ka == kb {
			t.Fatalf("safeKey(%q) == safeKey(%q) == %q", a, b, ka)
		}
	})
}

func TestExpiration(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		ttl  time.Duration
		want int32
	}{
		{time.Nanosecond, 1},
		{time.Millisecond, 1},
		{time.Second, 1},
		{1500 * time.Millisecond, 2},
		{time.Minute, 60},
		{30 * 24 * time.Hour, 2592000},
		{30*24*time.Hour + time.Second, int32(now.Unix()) + 2592001},
		{365 * 24 * time.Hour, int32(now.Unix()) + 365*24*3600},
	} {
		if got := expiration(tc.ttl, now); got != tc.want {
			t.Errorf("expiration(%v) = %d; want %d", tc.ttl, got, tc.want)
		}
	}
}

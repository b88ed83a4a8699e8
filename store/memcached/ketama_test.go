package memcached_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/cachedgo/cached/store/memcached"
)

// ketamaPools are the pools checked against PHP. Addresses are only hashed,
// never contacted.
var ketamaPools = []struct {
	name    string
	servers []memcached.WeightedServer
}{
	{"one", pool(0, "127.0.0.1:11211")},
	{"three default port", pool(0, "127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211")},
	{"three other ports", pool(0, "127.0.0.1:21211", "192.0.2.5:11311", "198.51.100.7:11212")},
	{"five mixed ports", pool(0, "127.0.0.1:11211", "127.0.0.1:21211", "192.0.2.10:11211",
		"198.51.100.20:11311", "203.0.113.30:11211")},
	{"five names, ipv6, unix", pool(0, "localhost:11211", "[::1]:11211", "[2001:db8::1]:21211",
		"/tmp/cached-ketama-test.sock", "192.0.2.1:11211")},
	{"weighted three", pool(1, "127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211")},
	{"weighted five", pool(7, "127.0.0.1:11211", "127.0.0.2:21211", "192.0.2.3:11211",
		"198.51.100.4:11311", "203.0.113.5:11211")},
	// 29/60 of 120 is exactly 58 hashes in real numbers but 57.99… in
	// libmemcached's float32 arithmetic, so the server gets 228 points, not
	// 232: this pool fails if the point counts are computed in float64.
	{"weighted float32 rounding", []memcached.WeightedServer{
		{Addr: "127.0.0.1:11211", Weight: 1},
		{Addr: "127.0.0.2:11211", Weight: 29},
		{Addr: "127.0.0.3:11211", Weight: 30},
	}},
	// 1/1101 of 120 hashes rounds down to none: the first server gets no keys.
	{"weighted starved", []memcached.WeightedServer{
		{Addr: "127.0.0.1:11211", Weight: 1},
		{Addr: "127.0.0.2:11211", Weight: 100},
		{Addr: "127.0.0.3:11211", Weight: 1000},
	}},
}

// pool builds a pool. With seed 0 all weights are 0 (libmemcached's default,
// equal weights); otherwise they are 0..100 from seed, with one server very
// light so that it may get no points at all.
func pool(seed uint64, addrs ...string) []memcached.WeightedServer {
	r := rand.New(rand.NewPCG(seed, 0))
	s := make([]memcached.WeightedServer, len(addrs))
	for i, a := range addrs {
		s[i].Addr = a
		if seed != 0 {
			s[i].Weight = r.IntN(101)
		}
	}
	if seed != 0 {
		s[0].Weight = 1
		s[len(s)-1].Weight = 100
	}
	return s
}

// ketamaKeys returns n varied keys of 1..250 bytes: short counters, random
// printable ASCII, unicode text, arbitrary bytes (invalid UTF-8 included)
// and keys of exactly 250 bytes.
func ketamaKeys(n int) []string {
	r := rand.New(rand.NewPCG(42, 42))
	words := []string{"ключ", "键", "キー", "🔑", "é", "user", " ", "\t", "ß"}
	keys := make([]string, 0, n)
	for i := 0; len(keys) < n; i++ {
		var k string
		switch i % 5 {
		case 0:
			k = fmt.Sprintf("key:%d", i)
		case 1:
			b := make([]byte, 1+r.IntN(250))
			for j := range b {
				b[j] = byte('!' + r.IntN('~'-'!'+1))
			}
			k = string(b)
		case 2:
			var sb strings.Builder
			for m := 1 + r.IntN(60); m > 0; m-- {
				w := words[r.IntN(len(words))]
				if sb.Len()+len(w) > 250 {
					break
				}
				sb.WriteString(w)
			}
			k = sb.String()
		case 3:
			b := make([]byte, 1+r.IntN(250))
			for j := range b {
				b[j] = byte(r.UintN(256))
			}
			k = string(b)
		case 4:
			k = fmt.Sprintf("%0250d", i)
		}
		keys = append(keys, k)
	}
	return keys
}

type phpServer struct {
	Host   string `json:"host"`
	Port   int    `json:"port"`
	Weight int    `json:"weight"`
}

// phpPicks asks PHP's memcached extension (libmemcached, LIBKETAMA_COMPATIBLE)
// for the index of each key's server in servers; -1 means PHP rejected the key.
func phpPicks(t *testing.T, servers []memcached.WeightedServer, keys []string) []int {
	t.Helper()
	const install = "PHP with the memcached extension is the reference for ketama placement; " +
		"install it with `apt-get install -y php-cli php-memcached` (the Makefile does)"
	if _, err := exec.LookPath("php"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("php not found in CI: %v; %s", err, install)
		}
		t.Fatalf("php not found: %v; %s", err, install)
	}
	in := struct {
		Servers []phpServer `json:"servers"`
		Keys    []string    `json:"keys"`
	}{}
	for _, s := range servers {
		ps := phpServer{Host: s.Addr, Weight: s.Weight}
		if !strings.Contains(s.Addr, "/") {
			host, port, err := net.SplitHostPort(s.Addr)
			if err != nil {
				t.Fatal(err)
			}
			ps.Host = host
			if _, err := fmt.Sscan(port, &ps.Port); err != nil {
				t.Fatal(err)
			}
		}
		in.Servers = append(in.Servers, ps)
	}
	for _, k := range keys {
		in.Keys = append(in.Keys, base64.StdEncoding.EncodeToString([]byte(k)))
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("php", "testdata/ketama/pick.php")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) && ee.ExitCode() == 2 {
			t.Fatalf("%s: %s", strings.TrimSpace(stderr.String()), install)
		}
		t.Fatalf("php testdata/ketama/pick.php: %v\n%s", err, stderr.String())
	}
	var out struct {
		Libmemcached int   `json:"libmemcached"`
		Picks        []int `json:"picks"`
	}
	if err := json.Unmarshal(stdout, &out); err != nil {
		t.Fatalf("decoding pick.php output: %v\n%s", err, stdout)
	}
	if len(out.Picks) != len(keys) {
		t.Fatalf("pick.php returned %d picks for %d keys", len(out.Picks), len(keys))
	}
	t.Logf("reference: PHP memcached extension, libmemcached version hex %#x", out.Libmemcached)
	return out.Picks
}

// indexOf maps each address Each visits to its position.
func indexOf(t *testing.T, k *memcached.Ketama) map[string]int {
	t.Helper()
	idx := map[string]int{}
	k.Each(func(a net.Addr) error {
		idx[a.String()] = len(idx)
		return nil
	})
	return idx
}

func TestKetamaMatchesPHP(t *testing.T) {
	keys := ketamaKeys(6000)
	for _, p := range ketamaPools {
		t.Run(p.name, func(t *testing.T) {
			k, err := memcached.NewKetamaWeighted(p.servers...)
			if err != nil {
				t.Fatal(err)
			}
			want := phpPicks(t, p.servers, keys)
			idx := indexOf(t, k)
			mismatches, counts := 0, make([]int, len(p.servers))
			for i, key := range keys {
				if want[i] < 0 {
					t.Fatalf("PHP rejected key %q (%d bytes)", key, len(key))
				}
				a, err := k.PickServer(key)
				if err != nil {
					t.Fatalf("PickServer(%q): %v", key, err)
				}
				got := idx[a.String()]
				counts[got]++
				if got != want[i] {
					if mismatches++; mismatches <= 5 {
						t.Errorf("PickServer(%q) = %s; PHP picks %s", key, a, p.servers[want[i]].Addr)
					}
				}
			}
			if mismatches > 0 {
				t.Fatalf("%d of %d keys placed differently from PHP", mismatches, len(keys))
			}
			t.Logf("%d keys agree with PHP; keys per server %v", len(keys), counts)
		})
	}
}

// TestKetamaRejectedKeys records what PHP does with keys libmemcached
// rejects, and that PickServer still answers for them.
func TestKetamaRejectedKeys(t *testing.T) {
	servers := ketamaPools[2].servers
	k, err := memcached.NewKetamaWeighted(servers...)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"", strings.Repeat("k", 251)}
	picks := phpPicks(t, servers, keys)
	for i, key := range keys {
		if picks[i] != -1 {
			t.Errorf("PHP getServerByKey(%d-byte key) = server %d; want rejection", len(key), picks[i])
		}
		if a, err := k.PickServer(key); a == nil || err != nil {
			t.Errorf("PickServer(%d-byte key) = %v, %v; want a server", len(key), a, err)
		}
	}
}

func TestKetamaRemap(t *testing.T) {
	const n = 100000
	three := []string{"127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211"}
	four := append(three[:3:3], "127.0.0.4:11211")

	k3, err := memcached.NewKetama(three...)
	if err != nil {
		t.Fatal(err)
	}
	k4, err := memcached.NewKetama(four...)
	if err != nil {
		t.Fatal(err)
	}
	var l3, l4 memcache.ServerList
	if err := l3.SetServers(three...); err != nil {
		t.Fatal(err)
	}
	if err := l4.SetServers(four...); err != nil {
		t.Fatal(err)
	}
	moved := func(a, b memcache.ServerSelector) float64 {
		changed := 0
		for i := range n {
			key := fmt.Sprintf("user:%d", i)
			x, _ := a.PickServer(key)
			y, _ := b.PickServer(key)
			if x.String() != y.String() {
				changed++
			}
		}
		return float64(changed) / n
	}
	km, lm := moved(k3, k4), moved(&l3, &l4)
	t.Logf("3 -> 4 servers, %d keys moved: Ketama %.4f, ServerList %.4f", n, km, lm)
	if km < 0.20 || km > 0.30 {
		t.Errorf("Ketama moved %.4f of keys; want in [0.20, 0.30]", km)
	}
	if lm < 0.6 {
		t.Errorf("ServerList moved %.4f of keys; want >= 0.6", lm)
	}
}

func TestKetamaPickServerOne(t *testing.T) {
	k, err := memcached.NewKetama("127.0.0.1:21211")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"", "a", strings.Repeat("z", 300)} {
		a, err := k.PickServer(key)
		if err != nil || a.String() != "127.0.0.1:21211" || a.Network() != "tcp" {
			t.Errorf("PickServer(%q) = %v, %v; want 127.0.0.1:21211", key, a, err)
		}
	}
}

func TestKetamaEach(t *testing.T) {
	servers := []string{"127.0.0.1:11211", "[::1]:11211", "/tmp/m.sock", "192.0.2.1:11311"}
	want := []string{"tcp 127.0.0.1:11211", "tcp [::1]:11211", "unix /tmp/m.sock", "tcp 192.0.2.1:11311"}
	k, err := memcached.NewKetama(servers...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := k.Each(func(a net.Addr) error {
		got = append(got, a.Network()+" "+a.String())
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Each visited %q; want %q", got, want)
	}

	stop := errors.New("stop")
	calls := 0
	err = k.Each(func(net.Addr) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("Each with failing f = %v after %d calls; want %v after 1", err, calls, stop)
	}
}

func TestNewKetamaErrors(t *testing.T) {
	tests := []struct {
		name    string
		servers []memcached.WeightedServer
	}{
		{"none", nil},
		{"no port", pool(0, "127.0.0.1")},
		{"empty port", pool(0, "127.0.0.1:")},
		{"port zero", pool(0, "127.0.0.1:0")},
		{"port too big", pool(0, "127.0.0.1:70000")},
		{"named port", pool(0, "127.0.0.1:http")},
		{"no host", pool(0, ":11211")},
		{"empty", pool(0, "")},
		{"unresolvable", pool(0, "no-such-host.invalid:11211")},
		{"duplicate", pool(0, "127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.1:11211")},
		{"negative weight", []memcached.WeightedServer{{Addr: "127.0.0.1:11211", Weight: -1}}},
		{"weight too big", []memcached.WeightedServer{{Addr: "127.0.0.1:11211", Weight: 1 << 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := memcached.NewKetamaWeighted(tt.servers...)
			if err == nil {
				t.Fatalf("NewKetamaWeighted(%v) = %v, nil; want an error", tt.servers, k)
			}
			if !strings.HasPrefix(err.Error(), "memcached: ") {
				t.Errorf("error %q lacks the memcached: prefix", err)
			}
		})
	}
	if _, err := memcached.NewKetama(); err == nil {
		t.Error("NewKetama() succeeded; want an error")
	}
}

func TestKetamaPickServerConcurrent(t *testing.T) {
	k, err := memcached.NewKetama("127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:21211")
	if err != nil {
		t.Fatal(err)
	}
	keys := ketamaKeys(500)
	want := make([]string, len(keys))
	for i, key := range keys {
		a, _ := k.PickServer(key)
		want[i] = a.String()
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i, key := range keys {
				if a, err := k.PickServer(key); err != nil || a.String() != want[i] {
					t.Errorf("concurrent PickServer(%q) = %v, %v; want %s", key, a, err, want[i])
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkPickServer(b *testing.B) {
	k, err := memcached.NewKetama("127.0.0.1:11211", "127.0.0.2:11211", "127.0.0.3:11211",
		"127.0.0.4:11211", "127.0.0.5:11211")
	if err != nil {
		b.Fatal(err)
	}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("user:%d:profile", i)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := k.PickServer(keys[i%len(keys)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

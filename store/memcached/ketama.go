package memcached

import (
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// Ketama is a consistent-hashing [memcache.ServerSelector] that places keys
// exactly as libmemcached does with weighted ketama and MD5 hashing, which is
// what PHP's memcached extension uses with Memcached::OPT_LIBKETAMA_COMPATIBLE
// set to true (and what other libmemcached clients, such as pylibmc with
// behaviors {"ketama": True}, use). Go and PHP/C clients sharing one memcached
// pool therefore agree on every key's server, and adding a fifth server to
// four moves about a fifth of the keys instead of nearly all of them, as the
// modulo hashing of [memcache.ServerList] does.
//
// Pass it to [memcache.NewFromSelector]. A Ketama is immutable and safe for
// concurrent use by multiple goroutines; to change the pool, build a new one.
type Ketama struct {
	addrs []net.Addr // in the order given; Each visits them in this order
	// The continuum: points is sorted ascending, and owner[i] is the index in
	// addrs of the server that contributed points[i].
	points []uint32
	owner  []int32
}

var _ memcache.ServerSelector = (*Ketama)(nil)

// WeightedServer is one server of a pool built by [NewKetamaWeighted].
type WeightedServer struct {
	// Addr is "host:port", or a path containing "/" for a Unix socket, as
	// for [NewKetama].
	Addr string

	// Weight is the server's relative share of the keys, libmemcached's
	// weight (the third argument of PHP's Memcached::addServer). Zero means
	// 1, as in libmemcached; negative weights are an error.
	Weight int
}

// NewKetama returns a Ketama over servers, each of equal weight. Each server
// is "host:port" (IPv6 as "[::1]:11211") or, as with [memcache.ServerList], a
// path containing "/" for a Unix socket.
//
// The host is hashed exactly as written, as libmemcached hashes the name
// given to addServer: "localhost:11211" and "127.0.0.1:11211" are different
// points on the continuum, so write each server as the other clients do. The
// order of servers does not affect placement.
//
// Addresses are resolved once, here, and never contacted. NewKetama returns
// an error if servers is empty, if a server is malformed or does not
// resolve, or if a server is listed twice.
func NewKetama(servers ...string) (*Ketama, error) {
	ws := make([]WeightedServer, len(servers))
	for i, s := range servers {
		ws[i] = WeightedServer{Addr: s}
	}
	return NewKetamaWeighted(ws...)
}

// NewKetamaWeighted is like [NewKetama] but gives each server a weight, and
// matches libmemcached's weighted ketama: a server gets
// floor(weight/total × 40 × len(servers)) × 4 points on the continuum,
// computed in single precision as libmemcached does. A server whose weight
// is tiny relative to the others may therefore get no points and no keys,
// just as in libmemcached. With all weights equal the result is the same as
// [NewKetama].
func NewKetamaWeighted(servers ...WeightedServer) (*Ketama, error) {
	if len(servers) == 0 {
		return nil, errors.New("memcached: ketama: no servers")
	}
	if len(servers) > math.MaxInt32 {
		return nil, errors.New("memcached: ketama: too many servers")
	}
	k := &Ketama{addrs: make([]net.Addr, len(servers))}
	hosts := make([]string, len(servers))
	ports := make([]int, len(servers))
	weights := make([]uint32, len(servers))
	seen := make(map[string]bool, len(servers))
	var total uint64
	for i, s := range servers {
		addr, host, port, err := ketamaResolve(s.Addr)
		if err != nil {
			return nil, err
		}
		id := host + "\x00" + strconv.Itoa(port)
		if seen[id] {
			return nil, fmt.Errorf("memcached: ketama: server %q listed twice", s.Addr)
		}
		seen[id] = true
		switch {
		case s.Weight < 0 || uint64(s.Weight) > math.MaxUint32:
			return nil, fmt.Errorf("memcached: ketama: server %q: weight %d out of range [0, %d]", s.Addr, s.Weight, uint32(math.MaxUint32))
		case s.Weight == 0:
			weights[i] = 1 // libmemcached's default weight
		default:
			weights[i] = uint32(s.Weight)
		}
		k.addrs[i], hosts[i], ports[i] = addr, host, port
		total += uint64(weights[i])
	}
	k.buildContinuum(hosts, ports, weights, total)
	return k, nil
}

// ketamaResolve parses and resolves one server and returns its address, the
// host name to hash, and the port (0 for a Unix socket, as libmemcached
// records it).
func ketamaResolve(server string) (addr net.Addr, host string, port int, err error) {
	if strings.Contains(server, "/") {
		ua, err := net.ResolveUnixAddr("unix", server)
		if err != nil {
			return nil, "", 0, fmt.Errorf("memcached: ketama: server %q: %w", server, err)
		}
		return ketamaAddr{network: ua.Network(), str: ua.String()}, server, 0, nil
	}
	host, p, err := net.SplitHostPort(server)
	if err != nil {
		return nil, "", 0, fmt.Errorf("memcached: ketama: server %q: %w", server, err)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 || host == "" {
		return nil, "", 0, fmt.Errorf("memcached: ketama: server %q: want host:port with a numeric port in [1, 65535]", server)
	}
	ta, err := net.ResolveTCPAddr("tcp", server)
	if err != nil {
		return nil, "", 0, fmt.Errorf("memcached: ketama: server %q: %w", server, err)
	}
	return ketamaAddr{network: ta.Network(), str: ta.String()}, host, port, nil
}

// buildContinuum follows libmemcached's update_continuum for weighted
// ketama: each server hashes "host-i" (default port 11211) or
// "host:port-i" (any other port) for i = 0, 1, ... with MD5 and takes four
// little-endian 32-bit points from every digest.
func (k *Ketama) buildContinuum(hosts []string, ports []int, weights []uint32, total uint64) {
	type point struct {
		value uint32
		owner int32
	}
	n := len(hosts)
	var pts []point
	for i := range n {
		// The exact libmemcached expression, rounding step by step in
		// float32 and adding 1e-10 in float64. The explicit conversions stop
		// the compiler from fusing a multiply and an add into one FMA, which
		// rounds once and could change a server's point count.
		pct := float32(weights[i]) / float32(total)
		f := float32(pct * 160)
		f = float32(f / 4)
		f = float32(f * float32(n))
		perServer := int(math.Floor(float64(float32(float64(f)+0.0000000001)))) * 4

		prefix := hosts[i]
		if ports[i] != 11211 {
			prefix += ":" + strconv.Itoa(ports[i])
		}
		buf := []byte(prefix + "-")
		base := len(buf)
		for j := range perServer / 4 {
			buf = strconv.AppendInt(buf[:base], int64(j), 10)
			sum := md5.Sum(buf)
			for x := range 4 {
				pts = append(pts, point{binary.LittleEndian.Uint32(sum[4*x:]), int32(i)})
			}
		}
	}
	// libmemcached sorts with qsort by value alone. A tie between two
	// servers' 32-bit points is vanishingly rare; a stable sort at least
	// breaks it the way a stable qsort would, by server order.
	slices.SortStableFunc(pts, func(a, b point) int {
		switch {
		case a.value < b.value:
			return -1
		case a.value > b.value:
			return 1
		}
		return 0
	})
	k.points = make([]uint32, len(pts))
	k.owner = make([]int32, len(pts))
	for i, p := range pts {
		k.points[i], k.owner[i] = p.value, p.owner
	}
}

// PickServer returns the server for key: the owner of the first continuum
// point at or after the first four bytes (little-endian) of the key's MD5,
// wrapping around to the first point. With a single server it returns that
// server without hashing, as libmemcached does. It never returns an error.
//
// PickServer hashes any key, including "" and keys longer than 250 bytes,
// which libmemcached (and so PHP) rejects as bad keys; [memcache.Client]
// rejects them itself before picking a server.
func (k *Ketama) PickServer(key string) (net.Addr, error) {
	if len(k.addrs) == 1 {
		return k.addrs[0], nil
	}
	// A stack buffer fits every legal key (≤ 250 bytes), where []byte(key)
	// would allocate for keys over 32 bytes.
	var buf [256]byte
	sum := md5.Sum(append(buf[:0], key...))
	h := binary.LittleEndian.Uint32(sum[:4])
	i, _ := slices.BinarySearch(k.points, h)
	if i == len(k.points) {
		i = 0
	}
	return k.addrs[k.owner[i]], nil
}

// Each calls f for every server once, in the order given to the
// constructor, and stops at and returns the first error f returns.
func (k *Ketama) Each(f func(net.Addr) error) error {
	for _, a := range k.addrs {
		if err := f(a); err != nil {
			return err
		}
	}
	return nil
}

// ketamaAddr caches a resolved address's Network and String, which
// memcache.Client calls on every operation to find a pooled connection.
type ketamaAddr struct {
	network, str string
}

func (a ketamaAddr) Network() string { return a.network }
func (a ketamaAddr) String() string  { return a.str }

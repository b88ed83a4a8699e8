package memcached

import "time"

// maxRelative is the longest expiration memcached reads as relative seconds; a larger
// number is read as an absolute unix time.
const maxRelative = 30 * 24 * 60 * 60

// expiration turns a TTL into memcached's expiration field: whole seconds, rounded up so
// that a TTL never becomes 0 ("never expires"); past 30 days, the absolute unix time, as
// the protocol requires (a relative 31 days would be read as a date in 1970, expiring at
// once).
func expiration(ttl time.Duration, now time.Time) int32 {
	secs := (ttl + time.Second - 1) / time.Second
	if secs < 1 {
		secs = 1
	}
	if secs <= maxRelative {
		return int32(secs)
	}
	abs := now.Unix() + int64(secs)
	if abs > 1<<31-1 {
		abs = 1<<31 - 1
	}
	return int32(abs)
}

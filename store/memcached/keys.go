package memcached

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxKeyLen is memcached's limit on a key's length in bytes.
const maxKeyLen = 250

// hashedPrefixLen bounds the readable part of a hashed key.
const hashedPrefixLen = 100

// safeKey maps any string to a key memcached accepts: at most 250 bytes, no spaces, no
// control characters, not empty. Keys that already qualify and hold no '#' are used as
// they are, so keys stay readable in memcached's tools. The others become a readable
// prefix (unsafe bytes replaced by '_', at most 100 bytes), a '#', and the SHA-256 of the
// whole key in hex. Every hashed form holds a '#' and no unchanged key does, and distinct
// keys have distinct hashes, so distinct keys never share a memcached key.
func safeKey(key string) string {
	if key != "" && len(key) <= maxKeyLen && !strings.Contains(key, "#") && plain(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	var b strings.Builder
	b.Grow(hashedPrefixLen + 1 + 2*len(sum))
	for i := 0; i < len(key) && b.Len() < hashedPrefixLen; i++ {
		if c := key[i]; c > ' ' && c != 0x7f && c != '#' && c < 0x80 {
			b.WriteByte(c)
		} else {
			b.WriteByte('_')
		}
	}
	b.WriteByte('#')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// plain reports whether key holds no byte memcached's text protocol forbids in a key.
// Bytes of 0x80 and above are allowed by the protocol, but gomemcache rejects them too.
func plain(key string) bool {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

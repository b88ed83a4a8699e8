package lock

import (
	"crypto/sha256"
	"encoding/hex"
)

// maxPlainKey is the longest cache key used as is in a lock's etcd key.
const maxPlainKey = 160

// lockName returns the name of key's mutex under the prefix: key itself when it is short
// and made of characters that cannot confuse etcd prefixes, else "#" and a hash of it.
// A mutex's waiters are keys under name+"/", so a name must never be a prefix of
// another's with a "/" next: "/" is never kept, and "#" never starts a kept name.
func lockName(key string) string {
	if len(key) <= maxPlainKey && plain(key) {
		return key
	}
	sum := sha256.Sum256([]byte(key))
	return "#" + hex.EncodeToString(sum[:20])
}

func plain(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == ':' || c == '.' || c == '_' || c == '-' || c == '%':
		default:
			return false
		}
	}
	return true
}

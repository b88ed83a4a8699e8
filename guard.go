package cached

// Guard rules out keys that cannot exist before they reach the store, the lock or the
// loader: a defence against floods of lookups for ids that do not exist (cache
// penetration). Package bloom implements one with a Bloom filter.
//
// The key a Guard sees is the argument part of the cache key: the argument's string form
// without namespace, function name or version ("42" for the int64 42, the string itself
// for a string without ':' or '%'). So a guard filled with user ids guards a function
// keyed by user id. Wrap2 functions join their two arguments with ':'.
//
// Implementations must be safe for concurrent use, and MayExist is called on every
// in-process miss, so it should not block.
type Guard interface {
	// MayExist reports whether key may exist. False means it certainly does not: the
	// call returns a not-found error without loading.
	MayExist(key string) bool

	// Add records that key exists. The engine calls it after a successful load and
	// after Put (unless the Guard is a [GuardWriter]).
	Add(key string)
}

// GuardWriter is a [Guard] that tells a written key from a loaded one: the engine calls
// Written instead of Add after Put. A load only follows MayExist saying yes, so its key
// is usually known already; a Put may be a record just created, which a guard shared by a
// fleet must pass on even when its own filter happens to say yes for it already (a false
// positive here need not be one on the other instances).
type GuardWriter interface {
	Guard
	// Written records that key exists because it was just written.
	Written(key string)
}

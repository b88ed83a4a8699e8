// Package lock is a [cached.Locker] on etcd: when one key misses on many instances at
// once, one of them loads it while the others wait, then read what it stored (the double
// check) instead of loading again.
//
//	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{"etcd:2379"}})
//	l, _ := lock.NewEtcd(cli, lock.TTL(10*time.Second))
//	defer l.Close()
//	c := cached.New(cached.WithStore(store), cached.WithLocker(l),
//		cached.LockTimeout(3*time.Second), cached.LockFallback(cached.FailOpen))
//
// # How it locks
//
// Each Locker keeps one etcd session: a lease it keeps alive while the process runs. The
// lock on a cache key is an etcd mutex (the protocol of etcd's concurrency.Mutex) named
// Prefix + key; a key longer than 160 bytes or with characters other than letters, digits
// and ":._-%" is named by "#" and a SHA-256 prefix of it instead, so names stay short and
// one name is never a prefix of another. Within a process, callers queue for a key before
// asking etcd, so etcd sees one waiter per process and key (and the engine's singleflight
// makes that one per key already).
//
// # Failure
//
// A process that dies holds its locks until its lease expires: at most [TTL] (default
// 10s). A process that stalls longer than the TTL (a long GC pause, a frozen VM) loses its
// locks the same way, and the next waiter loads. When the stalled holder wakes up, its
// write must not overwrite the newer value: every lock carries a fencing token (Fence: the
// create revision of its mutex key, which grows with every acquisition), the engine stores
// it with the value, and a fencing store (store/memcached) drops a write whose token is
// older than the stored one. Unlock reports a lock lost this way as [ErrLost], and the
// lost session is replaced at the next Lock.
//
// When etcd does not answer, Lock fails (bounded by its context: the engine's
// cached.LockTimeout) and the engine falls back as cached.LockFallback says, by default
// loading as if there were no Locker. After a few consecutive failures a breaker makes Lock
// fail at once ([ErrUnavailable]), so misses do not each wait for the timeout while etcd
// is down; one probe per cooldown notices its return. No call into this package waits past
// its context, and Close waits for the goroutines the package started.
package lock

// Package bloom is a [cached.Guard] on a Bloom filter (github.com/bits-and-blooms/bloom/v3):
// a defence against cache penetration, floods of lookups for ids that do not exist. A key
// the filter rules out is answered "not found" on a miss without a loader call, a lock or a
// store write; negative caching ([cached.NegativeTTL]) cannot do that for ids never asked
// before, and a flood of random ids is made of those.
//
//	g := bloom.New(1_000_000, 0.01)                 // about 1.2 MB
//	g.Fill(ctx, repo.AllUserIDs(ctx))               // warm up before serving
//	getUser := cached.Wrap(c, "user", repo.GetUser, cached.WithGuard(g))
//
// # Keys
//
// The guard sees the argument part of the cache key a function builds, without namespace,
// function name or version: "42" for the int64 42, the string itself for a string key
// (with '%' and ':' escaped as %25 and %3A), the KeyFunc's result for other types, and the
// two parts joined by ':' for Wrap2. So fill it with strconv.FormatInt(id, 10) for a
// function keyed by int64 ids. Successful loads and Put add their key; so a record
// created after Fill is accepted once it was loaded or Put here, or sent by another
// instance (see [WithBus]).
//
// # Concurrency
//
// The filter is split into shards by a hash of the key, each an immutable bits-and-blooms
// filter behind an atomic pointer: MayExist loads one and tests it, never locking; Add
// copies the one shard it changes and swaps the copy in (a shard is a few KiB), so it
// never makes a reader wait. A Guard is safe for concurrent use.
//
// # Rebuilds, overfill
//
// A Bloom filter cannot forget a deleted key, and its false-positive rate climbs once it
// holds more keys than it was sized for. [RebuildFrom] gives the guard a Source of every
// key that exists; [Guard.Rebuild] (periodic, or on demand) builds a fresh filter from it
// and swaps it in atomically, sized for twice the keys if the old one overfilled. Stats
// report the live filter's keys, fill, estimated false-positive rate and whether it is
// overfilled.
//
// # A fleet
//
// Without a Bus a guard serves one instance. In a fleet that risks a false "not found":
// a record created on another instance is unknown here until this guard's next rebuild,
// Fill, or a load or Put of it here (which a "not found" answer prevents). [WithBus]
// sends each new key to every instance (batched, within [Flush], 100ms by default); a Bus
// that lost messages makes every guard accept all keys until it is rebuilt, rather than
// wrongly say "not found". [WithStore] keeps a snapshot of the filter in the shared Store
// so that a new instance starts warm ([Guard.LoadSnapshot]) without scanning the database.
package bloom

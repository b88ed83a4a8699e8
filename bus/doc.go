// Package bus is a [cached.Bus] on etcd: Put and Invalidate on one instance drop the key
// from the in-process tier of every instance, and other packages (a Bloom guard's
// additions, a policy push) share the same bus under their own topics.
//
//	busA, err := bus.NewEtcd(cli)
//	...
//	defer busA.Close()
//	c := cached.New(cached.WithStore(store), cached.WithBus(busA))
//
// # Events
//
// [Etcd.Publish] writes each message as its own key, <prefix><bus ID>/<sequence number>,
// whose value carries the publishing bus's ID and sequence number, the publish time, the
// time of its newest failed publish, and the message. Keys are attached to a short lease
// that is never kept alive (see [EventTTL]), so they disappear on their own; the
// deletions are not events. Each [Etcd] runs one watcher goroutine that watches the
// prefix and calls the subscribers with every event, its own included, setting
// Message.Rev to the key's etcd revision. Topics starting with "bus/" are the bus's own:
// Publish refuses them, as it refuses an empty Topic.
//
// # Loss is never silent
//
// A message that may have been lost makes the bus deliver a [cached.TopicResync] (its
// Data says why) before the next message; the engine then drops its in-process tiers.
// That happens when:
//   - the watcher fell behind etcd's compaction (it then restarts at the oldest kept
//     revision): Stats.Resyncs;
//   - another bus lost a message: it skipped a sequence number because one of its
//     publishes failed, or, heard of for the first time or first since a resync, it
//     reports a failed publish that no resync of this bus covers: Stats.Gaps. A failed
//     publish thus makes every other instance resync once: an invalidation that may not
//     have been delivered must not be lost silently. A bus whose publish failed publishes
//     a small sync event soon after, so the gap shows even when nothing else is
//     published. The publishing bus itself does not resync: its caller got the error;
//   - an event key holds a value this bus cannot decode (a newer envelope version during
//     a rolling upgrade): Stats.Malformed. A value under a key not shaped like an event
//     key is foreign: counted and skipped;
//   - [NewEtcd] could not reach etcd, once the watcher starts; or the watcher panicked.
//
// A lost watch (etcd restarted, its member lost the leader, etcd silent for twice the
// [Timeout]) is re-established from the revision after the last delivered event, with
// backoff, so nothing is missed while etcd keeps its history: Stats.Connected is false
// meanwhile, and Stats.Reconnects counts the returns. Stats also reports how many
// revisions the watcher is Behind and the delivery lag (last, p50 and p99 of the last
// 1,024 delivered events): a broken broadcast shows in metrics (LESSONS 6), as Connected
// false, Behind growing and Reconnects, not in the lag.
//
// Sequence numbers are tracked per publishing bus, across resyncs; one silent for an
// hour is forgotten (the map does not grow with restarted instances), and when heard
// again counts as new.
//
// # Concurrency
//
// An [Etcd] is safe for concurrent use. Subscribers run one at a time on the watcher
// goroutine, in subscription order; Publish never waits for them.
package bus

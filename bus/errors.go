package bus

import "errors"

// ErrClosed is returned by [Etcd.Publish] after [Etcd.Close], and by a Publish that was
// waiting for its turn when Close was called.
var ErrClosed = errors.New("bus: closed")

// ErrNoClient is returned by [NewEtcd] when its etcd client is nil; it is the only error
// NewEtcd returns.
var ErrNoClient = errors.New("bus: nil etcd client")

// ErrNoTopic is wrapped by the error [Etcd.Publish] returns for a message with an empty
// Topic. Such a message is refused before it takes a sequence number, so it costs the
// other instances nothing: no reader could tell what it is about.
var ErrNoTopic = errors.New("bus: message has no topic")

// ErrReservedTopic is wrapped by the error [Etcd.Publish] returns for a message whose
// Topic starts with "bus/": that namespace belongs to the bus's own events (the sync
// event a bus writes after a failed publish), which are never delivered to subscribers,
// so a user message there would vanish.
var ErrReservedTopic = errors.New(`bus: topic reserved for the bus ("bus/...")`)

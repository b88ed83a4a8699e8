package bus

import "errors"

// ErrClosed is returned by [Etcd.Publish] after [Etcd.Close].
var ErrClosed = errors.New("bus: closed")

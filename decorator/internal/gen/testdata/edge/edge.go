// Package edge is a golden case of cachedgen: names that clash, unnamed parameters,
// embedded interfaces, variadics, other packages' types and methods without a context.
package edge

import (
	"context"
	"database/sql"
	"io"
	"net/netip"
	"time"
)

// cached is a package-level name that the generated file's import must not clash with.
var cached = 1

// ErrNoRows is used in an annotation (notfound=sql.ErrNoRows) and so must be imported.
var _ = sql.ErrNoRows

// Reader is embedded: its methods pass through.
type Reader interface {
	Read(p []byte) (int, error)
}

// Store exercises the generator's corners.
type Store interface {
	Reader
	io.Closer

	// Lookup returns a type of another package under a name that is no identifier; its
	// parameter r must not hide the receiver.
	//
	//cached:get name=addr.by-host ttl=90s negative=5s notfound=sql.ErrNoRows
	Lookup(ctx context.Context, r string) (netip.Addr, error)

	//cached:get name=now
	//cached:tags clock
	Now(context.Context) (time.Time, error)

	//cached:evict name=addr.by-host key=hosts before=true
	//cached:evict name=now
	//cached:evict tags=clock
	Forget(ctx context.Context, hosts ...string) error

	//cached:put name=addr.by-host key=host value=a
	Set(ctx context.Context, host string, a netip.Addr) (old netip.Addr, changed bool, err error)

	Stream(ctx context.Context, w io.Writer, opts ...int)
	Size() int64
}

package luapolicy

import (
	"context"
	"errors"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// WatchEtcd keeps the Engine in step with the script stored under key in etcd, so that
// one write updates every instance of a fleet, until ctx ends or the Engine is closed.
// It reads the key at once (a missing key leaves the live version in place), then
// reloads on every put. A rejected version leaves the live one in place, as with
// [Engine.Watch]; deleting the key does too.
//
// The watch requires a leader, so an instance cut off from the etcd quorum notices; a
// broken or compacted watch is resumed by reading the key again. WatchEtcd returns ctx's
// error, or [ErrClosed] after Close.
func (e *Engine) WatchEtcd(ctx context.Context, cli *clientv3.Client, key string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	name := "etcd:" + key
	backoff := 100 * time.Millisecond
	for {
		rev, err := e.readEtcd(ctx, cli, key, name)
		if err == nil {
			backoff = 100 * time.Millisecond
			err = e.followEtcd(ctx, cli, key, name, rev)
		}
		if ctx.Err() != nil {
			if e.closed.Load() {
				return ErrClosed
			}
			return ctx.Err()
		}
		if l := e.cfg.logger; l != nil {
			l.Warn("luapolicy: etcd watch interrupted; resuming", "key", key, "err", err, "in", backoff)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// readEtcd loads the key's current value and returns the revision to watch from.
func (e *Engine) readEtcd(ctx context.Context, cli *clientv3.Client, key, name string) (int64, error) {
	resp, err := cli.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) > 0 {
		if err := e.reload(name, resp.Kvs[0].Value); errors.Is(err, ErrClosed) {
			return 0, err
		}
	}
	return resp.Header.Revision + 1, nil
}

// followEtcd reloads on every put of key from rev on, until the watch breaks.
func (e *Engine) followEtcd(ctx context.Context, cli *clientv3.Client, key, name string, rev int64) error {
	wch := cli.Watch(clientv3.WithRequireLeader(ctx), key, clientv3.WithRev(rev))
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err // compacted, or the leader was lost: read the key again
		}
		// Of several puts delivered together only the last is the key's content.
		var last []byte
		for _, ev := range resp.Events {
			if ev.Type == clientv3.EventTypePut {
				last = ev.Kv.Value
			}
		}
		if last != nil {
			if err := e.reload(name, last); errors.Is(err, ErrClosed) {
				return err
			}
		}
	}
	return errors.New("luapolicy: etcd watch closed")
}

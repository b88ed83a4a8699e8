package luapolicy

import (
	"context"
	"os"
	"time"
)

// Watch keeps the Engine in step with the file [Load] read until ctx ends or the Engine
// is closed: every [PollInterval] it reads the file and, when its SHA-256 differs from the
// last content it tried, reloads it. A version that fails to compile or self-check is
// rejected (see [OnReload], [Engine.Stats] and the logger) and the live one stays; the
// same content is not tried again until it changes. A missing or unreadable file leaves
// the live version in place.
//
// Why poll a checksum rather than use file notifications: it needs no dependency, and it
// sees every way a policy file is replaced (an editor's rename, a Kubernetes ConfigMap's
// symlink swap, a network filesystem) where notifications miss some. A policy file is
// small, so reading it once a second costs nothing.
//
// Watch returns ctx's error, [ErrClosed] after Close, or [ErrNoFile] for an Engine made
// by [LoadString].
func (e *Engine) Watch(ctx context.Context) error {
	if e.path == "" {
		return ErrNoFile
	}
	tried := e.live.Load().script.sum
	var lastReadErr string
	t := time.NewTicker(e.cfg.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-e.done:
			return ErrClosed
		case <-t.C:
		}
		src, err := os.ReadFile(e.path)
		if err != nil {
			if l := e.cfg.logger; l != nil && err.Error() != lastReadErr {
				l.Warn("luapolicy: cannot read the policy file; the live version stays", "err", err)
			}
			lastReadErr = err.Error()
			continue
		}
		lastReadErr = ""
		if sum := checksum(src); sum != tried {
			tried = sum
			if err := e.reload(e.path, src); err == ErrClosed {
				return err
			}
		}
	}
}

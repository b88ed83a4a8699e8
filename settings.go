package cached

import (
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/cachedgo/cached/jitter"
)

// settings are the resolved rules one call runs under: a function's own options, or those
// with a Policy's Rules applied over them. A settings value is immutable once built, and
// its address identifies the rules an in-process entry was stored under.
type settings struct {
	ttl, negTTL, swr, sie, loadTimeout, localTTL time.Duration
	jitter                                       jitter.Func
	beta                                         float64
	notFound                                     func(error) bool
	store                                        Store
	locker                                       Locker
	guard                                        Guard
	codec                                        Codec
	observer                                     Observer
	logger                                       *slog.Logger
	fallback                                     Fallback
	prefix                                       string // escaped "namespace:name:version:"
	rules                                        *Rules // nil for the function's own options
}

func resolve(cfg *config, name string, hasBus bool, rules *Rules) *settings {
	s := &settings{
		ttl:         cfg.ttl,
		negTTL:      cfg.negTTL,
		swr:         cfg.swr,
		sie:         cfg.sie,
		loadTimeout: cfg.loadTimeout,
		localTTL:    cfg.localTTL,
		jitter:      cfg.jitter,
		beta:        cfg.beta,
		notFound:    cfg.notFound,
		store:       cfg.store,
		locker:      cfg.locker,
		guard:       cfg.guard,
		codec:       cfg.codec,
		observer:    cfg.observer,
		logger:      cfg.logger,
		fallback:    cfg.fallback,
		rules:       rules,
	}
	if !cfg.localTTLSet && cfg.store != nil && !hasBus {
		// Without a Bus nothing tells this instance that another one changed a key in
		// the shared Store: keep the in-process copy short-lived.
		s.localTTL = DefaultLocalTTLWithStore
	}
	var b strings.Builder
	for _, seg := range []string{cfg.namespace, name, cfg.version} {
		b.WriteString(escape(seg))
		b.WriteByte(':')
	}
	s.prefix = b.String()
	return s
}

// isNotFound reports whether a loader error is a not-found result.
func (s *settings) isNotFound(err error) bool {
	return errors.Is(err, ErrNotFound) || (s.notFound != nil && s.notFound(err))
}

package cached

import (
	"errors"
	"strings"
)

// settings are the resolved rules one call runs under: a function's own options, or those
// with a Policy's Rules applied over them. A settings value is immutable once built, and
// its address identifies the rules an in-process entry was stored under.
type settings struct {
	config
	prefix string // escaped "namespace:name:version:"
	rules  *Rules // nil for the function's own options
}

func resolve(cfg *config, name string, hasBus bool, rules *Rules) *settings {
	s := &settings{config: *cfg, rules: rules}
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

package embedded

import (
	"log/slog"

	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// The parts New builds a cache from, for composition roots that wire them
// one by one (the jwtcache server does, with fx).

// Store is what a cache is built on: tokens, renewal locks, the change
// feed, pruning and a ping for health, as both bundled stores provide them.
type Store interface {
	ports.TokenStore
	ports.RenewalLocker
	ports.ChangeFeed
	ports.Pruner
	ports.Pinger
}

// NewIssuer returns the token-service client cfg describes, per-service
// clients included, and the function that stops its background work (the
// discovery refresh of an issuer URL). Options.Clock and Options.Logger are
// used; the other fields are ignored.
func NewIssuer(cfg config.Config, opts Options) (ports.TokenIssuer, func() error, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	iss, err := newIssuer(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	return iss, iss.Close, nil
}

// NewStore returns the memory or Redis store cfg describes, and the
// function that releases it. It contacts nobody. Options.Clock and
// Options.Logger are used; the other fields are ignored.
func NewStore(cfg config.Config, opts Options) (Store, func() error, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	st, err := newStore(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	return st.Store, st.close, nil
}

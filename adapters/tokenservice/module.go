package tokenservice

import (
	"go.uber.org/fx"

	"github.com/jwtcache/jwtcache/ports"
)

// Module provides a ports.TokenIssuer built from the Options in the graph;
// the caller supplies them (fx.Supply(tokenservice.Options{...})).
// The issuer is closed when the application stops, which ends its
// background discovery refreshes.
var Module = fx.Module("tokenservice", fx.Provide(provide))

func provide(lc fx.Lifecycle, opts Options) (ports.TokenIssuer, error) {
	i, err := New(opts)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(i.Close))
	return i, nil
}

// NewTokenIssuer is New returning the port, for fx.
func NewTokenIssuer(opts Options) (ports.TokenIssuer, error) {
	i, err := New(opts)
	if err != nil {
		return nil, err
	}
	return i, nil
}

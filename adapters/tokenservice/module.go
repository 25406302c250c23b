package tokenservice

import (
	"go.uber.org/fx"

	"github.com/jwtcache/jwtcache/ports"
)

// Module provides a ports.TokenIssuer built from the Options in the graph;
// the caller supplies them (fx.Supply(tokenservice.Options{...})).
var Module = fx.Module("tokenservice", fx.Provide(NewTokenIssuer))

// NewTokenIssuer is New returning the port, for fx.
func NewTokenIssuer(opts Options) (ports.TokenIssuer, error) {
	i, err := New(opts)
	if err != nil {
		return nil, err
	}
	return i, nil
}

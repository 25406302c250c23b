package transport

import (
	"log/slog"

	"go.uber.org/fx"
)

// Module provides a *Transport signing with the Source in the graph, which
// the application supplies, from the core for instance:
//
//	fx.Provide(func(s *app.Cache) transport.Source { return s })
//
// It uses the *slog.Logger in the graph if there is one. Hosts and the
// other fields can be set by an fx.Decorate before the first request.
var Module = fx.Module("transport", fx.Provide(newModuleTransport))

type moduleParams struct {
	fx.In

	Source Source
	Logger *slog.Logger `optional:"true"`
}

func newModuleTransport(p moduleParams) *Transport {
	return &Transport{Source: p.Source, Logger: p.Logger}
}

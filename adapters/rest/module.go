package rest

import (
	"net/http"

	"go.uber.org/fx"
)

// ServerConfig is what Module needs to know about the listener.
type ServerConfig struct {
	// Addr is the host:port to listen on, e.g. ":8080".
	Addr string
}

// Module serves the REST API while the fx application runs. It needs a
// TokenService and a ServerConfig; Options are optional. It provides the
// *Server (for its Addr); the handler stays private to the module.
var Module = fx.Module("rest",
	fx.Provide(fx.Private, provideHandler),
	fx.Provide(provideServer),
	// Nothing else depends on the server, so it is asked for here, or fx
	// would never build it.
	fx.Invoke(func(*Server) {}),
)

type handlerParams struct {
	fx.In

	Service TokenService
	Options Options `optional:"true"`
}

func provideHandler(p handlerParams) http.Handler {
	return NewHandler(p.Service, p.Options)
}

type serverParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    ServerConfig
	Handler   http.Handler
	Options   Options `optional:"true"`
}

// provideServer ties the server to the application's life cycle: the hooks
// never block, since Start only listens and Stop is bounded by fx's stop
// context.
func provideServer(p serverParams) *Server {
	s := NewServer(p.Config.Addr, p.Handler, p.Options.Logger)
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}

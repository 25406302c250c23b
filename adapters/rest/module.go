package rest

import (
	"net/http"
	"time"

	"go.uber.org/fx"
)

// ServerConfig is what Module needs to know about the listener.
type ServerConfig struct {
	// Addr is the host:port to listen on, e.g. ":8080".
	Addr string
	// ShutdownDelay is how long the server keeps serving, with /readyz at
	// 503, after the application starts stopping (see Server.DrainFirst).
	// Zero stops accepting at once; readiness still goes to 503 first.
	ShutdownDelay time.Duration
}

// Module serves the REST API while the fx application runs. It needs a
// Cache and a ServerConfig; Options are optional. It provides the
// *Server (for its Addr); the handler stays private to the module.
var Module = fx.Module("rest",
	fx.Provide(fx.Private, provideReadiness),
	fx.Provide(fx.Private, provideHandler),
	fx.Provide(provideServer),
	// Nothing else depends on the server, so it is asked for here, or fx
	// would never build it.
	fx.Invoke(func(*Server) {}),
)

type handlerParams struct {
	fx.In

	Service   Cache
	Options   Options `optional:"true"`
	Readiness *Readiness
}

// provideReadiness is the one Readiness the handler reports and the
// server drains: Options.Readiness, or a new one.
func provideReadiness(p optionsParams) *Readiness {
	if p.Options.Readiness != nil {
		return p.Options.Readiness
	}
	return &Readiness{}
}

type optionsParams struct {
	fx.In

	Options Options `optional:"true"`
}

func provideHandler(p handlerParams) http.Handler {
	opts := p.Options
	opts.Readiness = p.Readiness
	return NewHandler(p.Service, opts)
}

type serverParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    ServerConfig
	Handler   http.Handler
	Options   Options `optional:"true"`
	Readiness *Readiness
}

// provideServer ties the server to the application's life cycle: the hooks
// never block, since Start only listens and Stop is bounded by fx's stop
// context.
func provideServer(p serverParams) *Server {
	s := NewServer(p.Config.Addr, p.Handler, p.Options.Logger)
	s.DrainFirst(p.Readiness, p.Config.ShutdownDelay)
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}

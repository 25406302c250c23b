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
	// Limits bound the API listener; zero fields take their defaults.
	Limits Limits
	// ManagementAddr, when not empty, is the host:port of a second
	// listener serving NewManagementHandler with ManagementLimits, so that
	// probes and metrics do not share the API port's connections. It
	// starts before the API listener and stops after it.
	ManagementAddr string
}

// ManagementServer is the management listener, or a nil Server when
// ServerConfig.ManagementAddr is empty.
type ManagementServer struct{ *Server }

// Module serves the REST API while the fx application runs. It needs a
// Cache and a ServerConfig; Options are optional. It provides the
// *Server (for its Addr); the handler stays private to the module.
var Module = fx.Module("rest",
	fx.Provide(fx.Private, provideReadiness),
	fx.Provide(fx.Private, provideHandler),
	fx.Provide(provideServer),
	fx.Provide(provideManagement),
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
	// Management is asked for so that its hooks come first: it starts
	// before the API and stops after it, answering /readyz 503 while the
	// API drains.
	Management ManagementServer
}

// provideServer ties the server to the application's life cycle: the hooks
// never block, since Start only listens and Stop is bounded by fx's stop
// context.
func provideServer(p serverParams) *Server {
	s := NewServer(p.Config.Addr, p.Handler, p.Options.Logger)
	s.SetLimits(p.Config.Limits)
	s.DrainFirst(p.Readiness, p.Config.ShutdownDelay)
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}

type managementParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    ServerConfig
	Service   Cache
	Options   Options `optional:"true"`
	Readiness *Readiness
}

func provideManagement(p managementParams) ManagementServer {
	if p.Config.ManagementAddr == "" {
		return ManagementServer{}
	}
	opts := p.Options
	opts.Readiness = p.Readiness
	s := NewServer(p.Config.ManagementAddr, NewManagementHandler(p.Service, opts), p.Options.Logger)
	s.SetLimits(ManagementLimits)
	p.Lifecycle.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return ManagementServer{s}
}

// Package fxmodule is jwtcache's token cache for uber-go/fx applications:
// Module provides the *app.Cache that embedded.New builds from the
// config.Config in the graph, and closes it when the application stops.
//
//	fx.New(
//		fx.Provide(func() (config.Config, error) { return config.Load(config.LoadOptions{}) }),
//		fxmodule.Module,
//		fx.Invoke(func(cache *app.Cache) { ... }),
//	)
//
// It is a package of its own so that programs using app/embedded without
// fx do not link fx.
package fxmodule

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// Module provides the *app.Cache built by embedded.New from the
// config.Config in the graph. It uses, when the graph has them, a
// *slog.Logger, an embedded.Instrumentation, and a ports.TokenIssuer and an
// embedded.Store to build the cache on instead of those the configuration
// describes (whoever provides them releases them). Building contacts
// nobody; the cache is closed when the application stops.
var Module = fx.Module("jwtcache",
	fx.Provide(provide),
)

type params struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Config     config.Config
	Logger     *slog.Logger             `optional:"true"`
	Instrument embedded.Instrumentation `optional:"true"`
	Issuer     ports.TokenIssuer        `optional:"true"`
	Store      embedded.Store           `optional:"true"`
	// TracerProvider traces what the cache builds itself; nil traces
	// nothing.
	TracerProvider trace.TracerProvider `optional:"true"`
}

func provide(p params) (*app.Cache, error) {
	cache, err := embedded.New(p.Config, embedded.Options{
		Logger:     p.Logger,
		Instrument: p.Instrument,
		Issuer:     p.Issuer,
		Store:      p.Store,
		// The issuer and store the graph provides are traced by whoever
		// built them.
		TracerProvider: p.TracerProvider,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StopHook(func(context.Context) error { return cache.Close() }))
	return cache, nil
}

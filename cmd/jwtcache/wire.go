package main

import (
	"context"
	"log/slog"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// newApp wires the adapters chosen by cfg around the core. cfg must be
// loaded and have a token service URL.
func newApp(cfg config.Config, logger *slog.Logger) *fx.App {
	return fx.New(options(cfg, logger)...)
}

func options(cfg config.Config, logger *slog.Logger) []fx.Option {
	return []fx.Option{
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: logger.With("component", "fx")}
			l.UseLogLevel(slog.LevelDebug)
			return l
		}),
		fx.Supply(cfg, logger),
		fx.Supply(issuerOptions(cfg)),
		tokenservice.Module,
		storeModule(cfg),
		fx.Provide(newTokenCache),
		fx.Provide(func(s *app.Service) rest.TokenService { return s }),
		fx.Supply(rest.ServerConfig{Addr: cfg.Server.Addr()}),
		fx.Supply(rest.Options{Logger: logger}),
		rest.Module,
		fx.Invoke(logStarted),
	}
}

func issuerOptions(cfg config.Config) tokenservice.Options {
	t := cfg.TokenService
	return tokenservice.Options{
		URL:          t.URL,
		ClientID:     t.ClientID,
		ClientSecret: t.ClientSecret.Reveal(),
		Scope:        t.Scope,
		GrantType:    t.GrantType,
		AuthMethod:   string(t.AuthMethod),
		Audience:     t.Audience,
		Timeout:      t.Timeout,
	}
}

// storeModule is the memory store or the Redis store, as cfg says.
func storeModule(cfg config.Config) fx.Option {
	return memory.Module
}

type cacheParams struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    config.Config
	Logger    *slog.Logger
	Issuer    ports.TokenIssuer
	Store     ports.TokenStore
	Locker    ports.RenewalLocker
	Feed      ports.ChangeFeed `optional:"true"`
}

// newTokenCache builds the core from the configuration and closes it when
// the application stops.
func newTokenCache(p cacheParams) (*app.Service, error) {
	c := p.Config.Cache
	policy := c.RenewalPolicy()
	idle := c.RenewalIdleTimeout
	if idle == 0 {
		idle = -1 // config's 0 means renew for ever; app's means the default
	}
	svc, err := app.New(app.Options{
		Issuer:          p.Issuer,
		Store:           p.Store,
		Locker:          p.Locker,
		Feed:            p.Feed,
		Policy:          &policy,
		CheckInterval:   c.RenewalCheckInterval,
		CleanupInterval: c.CleanupInterval,
		IdleTimeout:     idle,
		LockTTL:         c.LockTTL,
		FetchTimeout:    p.Config.TokenService.Timeout,
		Logger:          p.Logger,
	})
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StopHook(svc.Close))
	return svc, nil
}

func logStarted(lc fx.Lifecycle, cfg config.Config, srv *rest.Server, logger *slog.Logger) {
	lc.Append(fx.StartHook(func(context.Context) {
		logger.Info("jwtcache serving",
			"addr", srv.Addr(),
			"cache", string(cfg.Cache.Type),
			"tokenService", cfg.TokenService.URL,
			"clientId", cfg.TokenService.ClientID,
			"renewalBuffer", cfg.Cache.RenewalBuffer,
			"version", version)
	}))
}

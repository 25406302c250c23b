package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/app/embedded/fxmodule"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// newApp wires the REST API around the token cache cfg describes. cfg must
// be loaded and have a token service URL.
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
		metricsModule,
		tokenServiceModule,
		storeModule,
		fxmodule.Module,
		restModule,
		fx.Invoke(observe),
		fx.Invoke(logStarted),
	}
}

// The server's modules. The adapters have plain constructors; fx lives
// here, at the composition root, so that a program using an adapter or
// app/embedded alone never links it.
var (
	// metricsModule provides the Prometheus metrics, which also instrument
	// the ports the cache drives.
	metricsModule = fx.Module("metrics",
		fx.Provide(func(logger *slog.Logger) *metrics.Metrics {
			return metrics.New(metrics.Options{Logger: logger, Version: version})
		}),
		fx.Provide(func(m *metrics.Metrics) embedded.Instrumentation { return m }),
	)

	// tokenServiceModule provides the client of the configured token
	// service.
	tokenServiceModule = fx.Module("tokenservice",
		fx.Provide(func(cfg config.Config) (ports.TokenIssuer, error) {
			return embedded.NewIssuer(cfg, embedded.Options{})
		}),
	)

	// storeModule provides the configured store, memory or Redis, and
	// releases it once the cache has closed. Starting does not wait for
	// Redis: the health endpoint reports it.
	storeModule = fx.Module("store", fx.Provide(newStore))

	// restModule serves the REST API while the application runs.
	restModule = fx.Module("rest",
		fx.Provide(fx.Private, func() *rest.Readiness { return &rest.Readiness{} }),
		fx.Provide(newAuth, newServer),
		// Nothing else depends on the server, so it is asked for here, or
		// fx would never build it.
		fx.Invoke(func(*rest.Server) {}),
	)
)

func newStore(lc fx.Lifecycle, cfg config.Config, logger *slog.Logger) (embedded.Store, error) {
	st, release, err := embedded.NewStore(cfg, embedded.Options{Logger: logger})
	if err != nil {
		return nil, err
	}
	// Stop hooks run in reverse order: the cache, built on the store, is
	// closed before the store is released.
	lc.Append(fx.StopHook(release))
	return st, nil
}

func newAuth(cfg config.Config, logger *slog.Logger) (*rest.Auth, error) {
	return rest.NewAuth(restAuthOptions(cfg, logger))
}

// newServer ties the API's server to the application's life cycle. The
// hooks never block: Start listens and serves in the background, Stop
// drains readiness first and is bounded by fx's stop context.
func newServer(lc fx.Lifecycle, cfg config.Config, cache *app.Cache, auth *rest.Auth, m *metrics.Metrics, ready *rest.Readiness, logger *slog.Logger) *rest.Server {
	h := rest.NewHandler(cache, rest.Options{Logger: logger, Auth: auth, Metrics: m.Handler(), Readiness: ready})
	s := rest.NewServer(cfg.Server.Addr(), h, logger)
	s.DrainFirst(ready, 0)
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	return s
}

// restAuthOptions maps the API keys of cfg onto the REST adapter's access
// control. No keys means an open API, which rest.NewAuth logs loudly.
func restAuthOptions(cfg config.Config, logger *slog.Logger) rest.AuthOptions {
	o := rest.AuthOptions{ProtectStatus: cfg.API.ProtectStatus, Logger: logger}
	for _, k := range cfg.API.AllKeys() {
		o.Keys = append(o.Keys, rest.APIKey{Key: k.Key.Reveal(), Services: k.Services})
	}
	return o
}

// observe feeds the metrics from the core and the API key check, read at
// each scrape.
func observe(m *metrics.Metrics, svc *app.Cache, auth *rest.Auth) error {
	if err := m.ObserveCache(svc); err != nil {
		return err
	}
	return m.ObserveAuth(auth)
}

func logStarted(lc fx.Lifecycle, cfg config.Config, srv *rest.Server, logger *slog.Logger) {
	lc.Append(fx.StartHook(func(context.Context) {
		attrs := []any{
			"addr", srv.Addr(),
			"cache", string(cfg.Cache.Type),
			"tokenService", cfg.TokenService.URL,
			"clientId", cfg.TokenService.ClientID,
			"renewalBuffer", cfg.Cache.RenewalBuffer,
			"version", version,
		}
		if cfg.Cache.Type == config.CacheRedis {
			attrs = append(attrs, "redisMode", string(cfg.Redis.Mode()), "redisAddrs", cfg.Redis.DialAddrs())
		}
		logger.Info("jwtcache serving", attrs...)
	}))
}

// redisLogger sends go-redis's own messages (dial failures, reconnects)
// to slog instead of the standard logger. They carry addresses, never the
// password.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

func init() {
	// Replaced with the configured logger in serveCmd; until then, quiet.
	redis.SetLogger(redisLogger{slog.Default()})
}

package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
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
		fx.Supply(metrics.Options{Logger: logger, Version: version}),
		metrics.Module,
		fx.Provide(func(m *metrics.Metrics) embedded.Instrumentation { return m }),
		embedded.Module,
		fx.Provide(func(s *app.Cache) rest.Cache { return s }),
		fx.Supply(rest.ServerConfig{Addr: cfg.Server.Addr()}),
		fx.Provide(func() (*rest.Auth, error) { return rest.NewAuth(restAuthOptions(cfg, logger)) }),
		tracingModule,
		fx.Provide(func(auth *rest.Auth, m *metrics.Metrics, tp trace.TracerProvider) rest.Options {
			return rest.Options{Logger: logger, Auth: auth, Metrics: m.Handler(), Observer: m, TracerProvider: tp}
		}),
		rest.Module,
		fx.Invoke(observe),
		fx.Invoke(logStarted),
	}
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

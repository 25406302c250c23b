package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

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
		embedded.Module,
		fx.Provide(func(s *app.Service) rest.TokenService { return s }),
		fx.Supply(rest.ServerConfig{Addr: cfg.Server.Addr()}),
		fx.Supply(rest.Options{Logger: logger}),
		rest.Module,
		fx.Invoke(logStarted),
	}
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

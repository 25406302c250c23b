package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/app/embedded/fxmodule"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/internal/redact"
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
		tracingModule,
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
		fx.Provide(func(lc fx.Lifecycle, cfg config.Config, logger *slog.Logger, tp trace.TracerProvider) (ports.TokenIssuer, error) {
			iss, stop, err := embedded.NewIssuer(cfg, embedded.Options{Logger: logger, TracerProvider: tp})
			if err != nil {
				return nil, err
			}
			lc.Append(fx.StopHook(stop))
			return iss, nil
		}),
	)

	// storeModule provides the configured store, memory or Redis, and
	// releases it once the cache has closed. Starting does not wait for
	// Redis: the health endpoint reports it.
	storeModule = fx.Module("store", fx.Provide(newStore))

	// restModule serves the REST API while the application runs.
	restModule = fx.Module("rest",
		fx.Provide(fx.Private, func() *rest.Readiness { return &rest.Readiness{} }),
		fx.Provide(newAuth, newManagementServer, newServer),
		// Nothing else depends on the server, so it is asked for here, or
		// fx would never build it.
		fx.Invoke(func(*rest.Server) {}),
	)
)

func newStore(lc fx.Lifecycle, cfg config.Config, logger *slog.Logger, tp trace.TracerProvider) (embedded.Store, error) {
	st, release, err := embedded.NewStore(cfg, embedded.Options{Logger: logger, TracerProvider: tp})
	if err != nil {
		return nil, err

	}
	// Stop hooks run in reverse order: the cache, built on the store, is
	// closed before the store is released.
	lc.Append(fx.StopHook(release))
	return st, nil
}

func newAuth(cfg config.Config, logger *slog.Logger) (*rest.Auth, error) {
	o, err := restAuthOptions(cfg, logger)
	if err != nil {
		return nil, err
	}
	return rest.NewAuth(o)
}

// managementServer is the optional management listener (MANAGEMENT_PORT):
// probes, health and metrics away from the API port. Its Server is nil
// when no management port is configured.
type managementServer struct{ *rest.Server }

// newManagementServer starts before the API listener and stops after it,
// so that /readyz answers 503 there while the API drains.
func newManagementServer(lc fx.Lifecycle, cfg config.Config, cache *app.Cache, auth *rest.Auth, m *metrics.Metrics, ready *rest.Readiness, tp trace.TracerProvider, logger *slog.Logger) managementServer {
	sc := restServerConfig(cfg)
	if sc.ManagementAddr == "" {
		return managementServer{}
	}
	h := rest.NewManagementHandler(cache, rest.Options{Logger: logger, Auth: auth, Metrics: m.Handler(), Observer: m, TracerProvider: tp, Readiness: ready})
	s := rest.NewServer(sc.ManagementAddr, h, logger)
	s.SetLimits(sc.ManagementLimits)
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: drainWithin(cfg.ShutdownCloseReserve(), s.Stop)})
	return managementServer{s}
}

// newServer ties the API's server to the application's life cycle. The
// hooks never block: Start listens and serves in the background, Stop
// drains readiness first and is bounded by fx's stop context. It takes the
// management server so that the latter's hooks come first.
func newServer(lc fx.Lifecycle, cfg config.Config, cache *app.Cache, auth *rest.Auth, m *metrics.Metrics, ready *rest.Readiness, tp trace.TracerProvider, _ managementServer, logger *slog.Logger) *rest.Server {
	sc := restServerConfig(cfg)
	h := rest.NewHandler(cache, rest.Options{Logger: logger, Auth: auth, Metrics: m.Handler(), Observer: m, TracerProvider: tp, Readiness: ready})
	s := rest.NewServer(sc.Addr, h, logger)
	s.SetLimits(sc.Limits)
	s.DrainFirst(ready, 0)
	lc.Append(fx.Hook{OnStart: s.Start, OnStop: drainWithin(cfg.ShutdownCloseReserve(), s.Stop)})
	return s
}

// drainWithin is stop bounded by the stop's deadline less reserve: fx
// runs no further stop hook once the stop's context has ended, so a drain
// that took all of it would leave the cache unclosed and its renewal
// locks held until they expire. The listeners stop first (their hooks
// come last); the cache, the store and the exporters have the reserve.
func drainWithin(reserve time.Duration, stop func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error {
		if deadline, ok := ctx.Deadline(); ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
			defer cancel()
		}
		return stop(ctx)
	}
}

// serverConfig is where and how the REST listeners listen.
type serverConfig struct {
	Addr             string
	Limits           rest.Limits
	ManagementAddr   string // empty: no management listener
	ManagementLimits rest.Limits
}

// restServerConfig maps the SERVER_* and MANAGEMENT_* keys onto the REST
// adapter's listeners.
func restServerConfig(cfg config.Config) serverConfig {
	s := cfg.Server
	return serverConfig{
		Addr: s.Addr(),
		Limits: rest.Limits{
			ReadTimeout:    s.ReadTimeout,
			WriteTimeout:   cfg.ServerWriteTimeout(),
			IdleTimeout:    s.IdleTimeout,
			MaxHeaderBytes: s.MaxHeaderBytes,
			MaxConnections: s.MaxConnections,
		},
		ManagementAddr:   s.ManagementAddr(),
		ManagementLimits: managementLimits(s),
	}
}

// managementLimits are the REST adapter's management limits with
// MANAGEMENT_MAX_CONNECTIONS, when set.
func managementLimits(s config.ServerConfig) rest.Limits {
	l := rest.ManagementLimits
	if s.ManagementMaxConnections > 0 {
		l.MaxConnections = s.ManagementMaxConnections
	}
	return l
}

// restAuthOptions maps the API keys of cfg onto the REST adapter's access
// control. No keys means an open API, which rest.NewAuth logs loudly. The
// keys of JWT_API_KEYS_FILE are read again when the file changes, so that
// a rotated key works without a restart.
func restAuthOptions(cfg config.Config, logger *slog.Logger) (rest.AuthOptions, error) {
	o := rest.AuthOptions{ProtectStatus: cfg.API.ProtectStatus, Logger: logger}
	o.Keys = restKeys(cfg.API.Keys)
	if cfg.API.KeysFile == "" {
		return o, nil
	}
	f, err := credfile.Open([]string{cfg.API.KeysFile}, config.ParseAPIKeysFile,
		credfile.Options{Name: "JWT_API_KEYS_FILE", Logger: logger})
	if err != nil {
		return o, err
	}
	o.FileKeys = func() ([]rest.APIKey, uint64) {
		keys, gen := f.Current()
		return restKeys(keys), gen
	}
	return o, nil
}

func restKeys(keys []config.APIKey) []rest.APIKey {
	out := make([]rest.APIKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, rest.APIKey{Key: k.Key.Reveal(), Services: k.Services})
	}
	return out
}

// observe feeds the metrics from the core and the API key check, read at
// each scrape.
func observe(m *metrics.Metrics, svc *app.Cache, auth *rest.Auth) error {
	if err := m.ObserveCache(svc); err != nil {
		return err
	}
	return m.ObserveAuth(auth)
}

func logStarted(lc fx.Lifecycle, cfg config.Config, srv *rest.Server, mgmt managementServer, logger *slog.Logger) {
	lc.Append(fx.StartHook(func(context.Context) {
		attrs := []any{
			"addr", srv.Addr(),
			"cache", string(cfg.Cache.Type),
			// scheme://host/path: a query may hold a secret.
			"tokenService", redact.URL(cfg.TokenService.URL),
			"issuer", redact.URL(cfg.TokenService.IssuerURL),
			"clientId", cfg.TokenService.ClientID,
			"renewalBuffer", cfg.Cache.RenewalBuffer,
			"version", version,
		}
		if mgmt.Server != nil {
			attrs = append(attrs, "managementAddr", mgmt.Addr())
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

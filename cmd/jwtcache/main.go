// Command jwtcache is the token cache service.
//
//	jwtcache [serve] [--config FILE] [--dev]   serve the REST API (the default)
//	jwtcache dev-issuer [--addr ADDR] ...      run only the development token service
//	jwtcache version | --version
//	jwtcache help | -h | --help
//
// Configuration comes from defaults, then the YAML file (--config or
// JWT_CONFIG_FILE), then the environment; see the README for every key.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
)

// version is what the binary reports. `make build` sets it with -ldflags
// "-X main.version=$(git describe --tags --always --dirty)"; when it is
// left empty, init (version.go) takes it from the build information.
var version string

// Exit codes: 2 for a usage or configuration problem, 1 for a failure at
// run time.
const (
	exitOK     = 0
	exitFail   = 1
	exitConfig = 2
)

// startTimeout bounds the application's start hooks, which bind the
// listeners and nothing more: what may be slow (Redis, the token service,
// an issuer's discovery) is checked before them or goes on in the
// background. The stop's bound is the configuration's ShutdownTimeout
// (SERVER_SHUTDOWN_TIMEOUT), derived from the longest wait of a request.
const startTimeout = 30 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, so tests can
// call it.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && (args[0][0] != '-' || isInfoFlag(args[0])) {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serveCmd(ctx, args, environ, stderr)
	case "dev-issuer":
		return devIssuerCmd(ctx, args, environ, stdout, stderr)
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "jwtcache", version)
		return exitOK
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	default:
		fmt.Fprintf(stderr, "jwtcache: unknown command %q\n", cmd)
		usage(stderr)
		return exitConfig
	}
}

// isInfoFlag reports whether arg asks for help or the version instead of
// being a flag of the default serve command.
func isInfoFlag(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "-version", "--version":
		return true
	}
	return false
}

// mainVariables are the variables usage names; TestHelp checks that each
// is a configuration key.
var mainVariables = []struct{ name, meaning string }{
	{"JWT_TOKEN_SERVICE_URL", "OAuth2 token endpoint (required unless --dev)"},
	{"JWT_CLIENT_ID", "OAuth2 client id"},
	{"JWT_CLIENT_SECRET", "OAuth2 client secret"},
	{"JWT_TOKEN_SCOPE", "scope requested with every token"},
	{"JWT_RENEWAL_BUFFER", "renew this long before expiry (20s)"},
	{"CACHE_TYPE", "memory or redis (redis when a Redis address is set)"},
	{"REDIS_HOST", "Redis server (REDIS_PORT, REDIS_PASSWORD ...)"},
	{"REDIS_ADDRS", "Redis Cluster nodes, or sentinels with REDIS_MASTER_NAME"},
	{"JWT_API_KEYS", "API keys required by the token endpoints"},
	{"JWT_CACHE_ENCRYPTION_KEY", "seal the tokens kept in Redis (AES-256-GCM)"},
	{"SERVER_PORT", "REST API port (8080)"},
	{"LOG_LEVEL", "debug, info, warn, error; LOG_FORMAT=json for JSON lines"},
}

func usage(w io.Writer) {
	fmt.Fprint(w, `jwtcache: a cache of OAuth2 client-credentials tokens, renewed before they expire.

usage:
  jwtcache [serve] [--config FILE] [--dev]
      Serve the REST API (the default command). --dev starts the built-in
      development token service when JWT_TOKEN_SERVICE_URL is not set.
  jwtcache dev-issuer [--addr 127.0.0.1:9000] [--client-id ID] [--lifetime 1h]
      Run only the development token service (secret from DEV_ISSUER_CLIENT_SECRET,
      or generated and printed).
  jwtcache version | --version
      Print the version.
  jwtcache help | -h | --help
      Print this help.

Configuration: defaults, then the YAML file (--config or `+config.FileEnv+`),
then the environment. The main variables:
`)
	for _, v := range mainVariables {
		fmt.Fprintf(w, "  %-26s %s\n", v.name, v.meaning)
	}
	fmt.Fprint(w, `
Every variable, its YAML key, format and default: README.md, section
"Configuration" (https://github.com/jwtcache/jwtcache#configuration).
`)
}

func serveCmd(ctx context.Context, args, environ []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "YAML configuration `file` (default: $JWT_CONFIG_FILE)")
	dev := fs.Bool("dev", false, "start the built-in development token service when JWT_TOKEN_SERVICE_URL is not set")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	cfg, err := config.Load(config.LoadOptions{File: *configFile, Environ: environ})
	if err == nil {
		err = cfg.CheckFiles()
	}
	if err != nil {
		fmt.Fprintf(stderr, "jwtcache: invalid configuration:\n%v\n", err)
		return exitConfig
	}
	logger := newLogger(cfg.Log, stderr)
	tracing, err := tracingWanted(os.Getenv)
	if err != nil {
		fmt.Fprintf(stderr, "jwtcache: invalid configuration:\n%v\n", err)
		return exitConfig
	}
	if tracing {
		logger = slog.New(traceHandler{logger.Handler()})
	}
	redis.SetLogger(redisLogger{logger})
	if cfg.Origin.File != "" {
		logger.Info("configuration file read", "file", cfg.Origin.File)
	}
	if len(cfg.Origin.UnknownKeys) > 0 {
		logger.Warn("configuration file has keys jwtcache does not read (misspelt?)", "keys", cfg.Origin.UnknownKeys)
	}
	for _, w := range cfg.Origin.Warnings {
		logger.Warn(w.Message, "variable", w.Env)
	}

	if !cfg.TokenService.Configured() {
		if !*dev {
			fmt.Fprintln(stderr, "jwtcache: JWT_TOKEN_SERVICE_URL (jwt.token.service.url) is not set: "+
				"point it at your OAuth2 token endpoint, or run `jwtcache serve --dev` (`make run`) "+
				"to use the built-in development token service")
			return exitConfig
		}
		devCtx, cancel := context.WithCancel(ctx)
		defer cancel()
		if cfg, err = startDevIssuer(devCtx, cfg, logger); err != nil {
			fmt.Fprintf(stderr, "jwtcache: %v\n", err)
			return exitFail
		}
	}

	// A Redis that refuses jwtcache's credentials is a misconfiguration:
	// starting would run a replica alone that reports ready and quietly
	// multiplies token-service calls. One that does not answer is an
	// outage, which the store survives: start degraded.
	if err := embedded.CheckStore(ctx, cfg, logger); err != nil {
		if fe, ok := errors.AsType[*config.FieldError](err); ok {
			fmt.Fprintf(stderr, "jwtcache: invalid configuration:\n%v\n", fe)
			return exitConfig
		}
		logger.Warn("Redis is unreachable at start-up; starting DEGRADED, the store reconnects by itself", "err", err)
	}

	fxApp := newApp(cfg, logger)
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if err := fxApp.Start(startCtx); err != nil {
		logger.Error("start-up failed", "err", err)
		if _, ok := errors.AsType[*config.FieldError](err); ok {
			return exitConfig // an issuer's discovery document named by the configuration is unusable
		}
		return exitFail
	}
	<-ctx.Done()
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout(), "closeReserve", cfg.ShutdownCloseReserve())
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.ShutdownTimeout())
	defer cancelStop()
	if err := fxApp.Stop(stopCtx); err != nil {
		logger.Error("shutdown did not complete", "err", err)
		return exitFail
	}
	return exitOK
}

// startDevIssuer runs the development token service in this process on a
// free loopback port and points cfg at it.
func startDevIssuer(ctx context.Context, cfg config.Config, logger *slog.Logger) (config.Config, error) {
	secret := devissuer.GenerateSecret()
	srv, err := devissuer.New(devissuer.Options{ClientID: "jwtcache-dev", ClientSecret: secret, Logger: logger.With("component", "devissuer")})
	if err != nil {
		return cfg, err
	}
	url, err := srv.ListenAndServe(ctx, "127.0.0.1:0")
	if err != nil {
		return cfg, err
	}
	cfg.TokenService.URL = url
	cfg.TokenService.ClientID = "jwtcache-dev"
	cfg.TokenService.ClientSecret = config.Secret(secret)
	// The development token service knows only this client and its secret.
	cfg.TokenService.AuthMethod = config.AuthClientSecretBasic
	cfg.TokenService.PrivateKeyFile = ""
	cfg.TokenService.ClientSecretFile, cfg.TokenService.ClientCertFile, cfg.TokenService.ClientCertKeyFile = "", "", ""
	logger.Warn("DEVELOPMENT SETUP: JWT_TOKEN_SERVICE_URL is not set, so jwtcache started its built-in development token service. "+
		"Its tokens are signed with a key generated at start-up and are good for nothing but development. "+
		"Set JWT_TOKEN_SERVICE_URL, JWT_CLIENT_ID and JWT_CLIENT_SECRET for a real token service.",
		"devTokenURL", url)
	return cfg, nil
}

func devIssuerCmd(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dev-issuer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9000", "listen `address`")
	clientID := fs.String("client-id", "jwtcache-dev", "the one client `id` accepted")
	lifetime := fs.Duration("lifetime", devissuer.DefaultTokenLifetime, "token `lifetime`")
	if err := fs.Parse(args); err != nil {
		return parseFailed(err)
	}
	secret := lookupEnv(environ, "DEV_ISSUER_CLIENT_SECRET")
	generated := secret == ""
	if generated {
		secret = devissuer.GenerateSecret()
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	srv, err := devissuer.New(devissuer.Options{ClientID: *clientID, ClientSecret: secret, TokenLifetime: *lifetime, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "jwtcache dev-issuer: %v\n", err)
		return exitConfig
	}
	url, err := srv.ListenAndServe(ctx, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "jwtcache dev-issuer: %v\n", err)
		return exitFail
	}
	logger.Warn("DEVELOPMENT token service: tokens are signed with a key generated at start-up; never use it in production")
	fmt.Fprintf(stdout, "JWT_TOKEN_SERVICE_URL=%s\nJWT_CLIENT_ID=%s\n", url, *clientID)
	if generated {
		// Printed once, on purpose: this is the development client's secret,
		// generated for this run, and the user needs it to configure jwtcache.
		fmt.Fprintf(stdout, "JWT_CLIENT_SECRET=%s\n", secret)
	}
	<-ctx.Done()
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Close(cctx); err != nil && !errors.Is(err, context.Canceled) {
		return exitFail
	}
	return exitOK
}

// parseFailed is the exit code for a flag parsing error: asking a
// command for its help (-h) is not a failure.
func parseFailed(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitConfig
}

func lookupEnv(environ []string, name string) string {
	for i := len(environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(environ[i], "="); ok && k == name {
			return v
		}
	}
	return ""
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Package embedded builds a ready-to-use jwtcache token cache inside a Go
// service, from the same configuration the jwtcache server reads: the
// guide's `jwtTokenService.getBearerToken("kyc")`, in Go.
//
//	cache, err := embedded.FromEnv(embedded.Options{})
//	if err != nil { ... }           // names the bad variable, never a secret
//	defer cache.Close()
//	bearer, err := cache.BearerToken(ctx, "kyc")
//
// The result is an *app.Cache with every guarantee of the server: hits
// from memory without allocation, one token-service call for concurrent
// misses, background renewal ahead of the buffer, and, with CACHE_TYPE=redis,
// one renewal per token across every process sharing the Redis. To sign
// outgoing requests, wrap it in adapters/transport.Transport; for x/oauth2
// consumers, use transport.TokenSource.
//
// Package app itself stays free of adapters and of fx: this package is the
// composition root, with plain constructors; fx applications use the
// module in app/embedded/fxmodule.
package embedded

import (
	"errors"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/ports"
)

// Options are the optional parts of an embedded cache.
type Options struct {
	// Logger receives the cache's structured logs (never a token or a
	// secret). Optional: slog.Default().
	Logger *slog.Logger
	// Issuer replaces the token-service client built from the
	// configuration (tests, or a token source of your own). Optional.
	Issuer ports.TokenIssuer
	// Store replaces the memory or Redis store built from the
	// configuration; the caller releases it after closing the cache.
	// Optional.
	Store Store
	// Clock replaces the system clock. Optional.
	Clock ports.Clock
	// Instrument, when set, wraps the issuer, store and locker the core
	// drives, to observe them (adapters/metrics.Metrics does). Optional.
	Instrument Instrumentation
	// TracerProvider, when set, traces the token requests (a client span
	// each, with W3C traceparent sent to the token service) and the Redis
	// commands run inside a span. Optional: nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Instrumentation wraps the ports the core drives with decorators that
// observe them. Each method returns its argument's behaviour unchanged.
type Instrumentation interface {
	Issuer(ports.TokenIssuer) ports.TokenIssuer
	Store(ports.TokenStore) ports.TokenStore
	Locker(ports.RenewalLocker) ports.RenewalLocker
	Pinger(ports.Pinger) ports.Pinger
}

// FromEnv loads the configuration from the environment (and the YAML file
// named by JWT_CONFIG_FILE, if any) and builds the cache with New.
func FromEnv(opts Options) (*app.Cache, error) {
	cfg, err := config.Load(config.LoadOptions{})
	if err != nil {
		return nil, err
	}
	return New(cfg, opts)
}

// New builds the token cache cfg describes: the token-service client, the
// memory or Redis store, and the core. It contacts nobody: a Redis that is
// down is found on first use (and survived: see the README). Close the
// result to stop its background work and release the store.
func New(cfg config.Config, opts Options) (*app.Cache, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	issuer := opts.Issuer
	var built *tokenservice.Issuer
	if issuer == nil {
		var err error
		if built, err = newIssuer(cfg, opts); err != nil {
			return nil, err
		}
		issuer = built
	}
	st := builtStore{Store: opts.Store, close: func() error { return nil }}
	if st.Store == nil {
		var err error
		if st, err = newStore(cfg, opts); err != nil {
			if built != nil {
				_ = built.Close()
			}
			return nil, err
		}
	}
	if built != nil {
		closeStore := st.close
		st.close = func() error { return errors.Join(built.Close(), closeStore()) }
	}
	svc, err := app.New(coreOptions(cfg, issuer, st, opts))
	if err != nil {
		_ = st.close()
		return nil, err
	}
	return svc, nil
}

// builtStore is a Store with what releases it.
type builtStore struct {
	Store
	close func() error
}

func newStore(cfg config.Config, opts Options) (builtStore, error) {
	switch cfg.Cache.Type {
	case config.CacheRedis:
		ro := redisOptions(cfg, opts.Clock, opts.Logger)
		keys, err := cfg.Cache.EncryptionKeys()
		if err != nil {
			return builtStore{}, err
		}
		ro.EncryptionKeys = keys
		ro.TracerProvider = opts.TracerProvider
		s, err := redisstore.New(ro)
		if err != nil {
			return builtStore{}, err
		}
		return builtStore{Store: s, close: s.Close}, nil
	case config.CacheMemory, "":
		return builtStore{Store: memory.New(opts.Clock, memory.MaxTTL(cfg.Cache.TTL)), close: func() error { return nil }}, nil
	default:
		return builtStore{}, fmt.Errorf("jwtcache: CACHE_TYPE (spring.cache.type): unknown cache type %q", cfg.Cache.Type)
	}
}

// newIssuer is the token-service client cfg describes. Its credential
// files are checked first, and an issuer whose discovery document cannot
// be used is reported, like them, as a *config.FieldError naming the key.
func newIssuer(cfg config.Config, opts Options) (*tokenservice.Issuer, error) {
	if !cfg.TokenService.Configured() {
		return nil, errors.New("jwtcache: JWT_TOKEN_SERVICE_URL (jwt.token.service.url) or JWT_TOKEN_ISSUER_URL is not set")
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	io := issuerOptions(cfg, opts.Clock)
	io.Logger = opts.Logger
	io.TracerProvider = opts.TracerProvider
	iss, err := tokenservice.New(io)
	var de *tokenservice.DiscoveryError
	if errors.As(err, &de) {
		fe := cfg.IssuerKey(de.IssuerURL)
		fe.Problem = de.Err.Error()
		return nil, fe
	}
	return iss, err
}

// issuerOptions maps the token-service part of cfg, per-service clients
// included, onto the tokenservice adapter's options.
func issuerOptions(cfg config.Config, clock ports.Clock) tokenservice.Options {
	t := cfg.TokenService
	negative := t.NegativeCache
	if negative == 0 {
		negative = -1 // the configuration's 0 turns the negative cache off; the adapter's 0 means its default
	}
	minLife := t.MinTokenLifetime
	if minLife == 0 {
		minLife = -1 // the configuration's 0 refuses only expired tokens; the adapter's 0 means its default
	}
	opts := tokenservice.Options{
		URL:            t.URL,
		ClientID:       t.ClientID,
		ClientSecret:   t.ClientSecret.Reveal(),
		Scope:          t.Scope,
		GrantType:      t.GrantType,
		AuthMethod:     string(t.AuthMethod),
		PrivateKeyFile: t.PrivateKeyFile,
		KeyID:          t.KeyID,
		SigningAlg:     string(t.SigningAlg),
		Audience:       t.Audience,
		Timeout:        t.Timeout,
		Strict:         t.StrictServices,
		NegativeCache:  negative,
		Clock:          clock,

		MinTokenLifetime:  minLife,
		ClientSecretFile:  t.ClientSecretFile,
		IssuerURL:         t.IssuerURL,
		ClientCertFile:    t.ClientCertFile,
		ClientCertKeyFile: t.ClientCertKeyFile,
		Reach:             tokenservice.Reach{CAFile: t.CAFile, DiscoveryRefresh: t.IssuerRefresh},
	}
	if len(t.Services) > 0 {
		opts.Services = make(map[string]tokenservice.ClientOptions, len(t.Services))
		for name, s := range t.Services {
			opts.Services[name] = tokenservice.ClientOptions{
				URL:            s.URL,
				ClientID:       s.ClientID,
				ClientSecret:   s.ClientSecret.Reveal(),
				AuthMethod:     string(s.AuthMethod),
				PrivateKeyFile: s.PrivateKeyFile,
				KeyID:          s.KeyID,
				SigningAlg:     string(s.SigningAlg),
				Scope:          s.Scope,
				Audience:       s.Audience,
				GrantType:      s.GrantType,
				Timeout:        s.Timeout,

				ClientSecretFile:  s.ClientSecretFile,
				IssuerURL:         s.IssuerURL,
				ClientCertFile:    s.ClientCertFile,
				ClientCertKeyFile: s.ClientCertKeyFile,
			}
		}
	}
	return opts
}

// redisOptions maps the Redis part of cfg onto the redisstore adapter's
// options, with Spring's names resolved to go-redis's.
func redisOptions(cfg config.Config, clock ports.Clock, logger *slog.Logger) redisstore.Options {
	r := cfg.Redis
	return redisstore.Options{
		Addrs:        r.DialAddrs(),
		MasterName:   r.MasterName,
		Username:     r.Username,
		Password:     r.Password.Reveal(),
		DB:           r.Database,
		TLS:          r.TLS,
		TLSOptions:   redisstore.TLSOptions{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile, ServerName: r.TLSServerName},
		DialTimeout:  r.Timeout,
		ReadTimeout:  r.Timeout,
		WriteTimeout: r.Timeout,
		PoolSize:     r.PoolSize(),
		MaxIdleConns: r.PoolMaxIdle,
		MinIdleConns: r.PoolMinIdle,
		PoolTimeout:  r.PoolMaxWait,
		KeyPrefix:    r.KeyPrefix,
		MaxTTL:       cfg.Cache.TTL,
		Clock:        clock,
		Logger:       logger,
	}
}

// coreOptions maps the cache part of cfg onto the core's options.
func coreOptions(cfg config.Config, issuer ports.TokenIssuer, st builtStore, opts Options) app.Options {
	c := cfg.Cache
	var tokens ports.TokenStore = st.Store
	var locker ports.RenewalLocker = st.Store
	var pinger ports.Pinger = st.Store
	// Read from the issuer itself, before instrumentation wraps it: a
	// probe is not a token request and counts in no metric of them.
	prober, _ := issuer.(ports.IssuerProber)
	issuerHealth := issuerHealthOf(issuer)
	// Asked of the issuer itself: an instrumenting wrapper hides it.
	keys, _ := issuer.(ports.ClientKeyer)
	if in := opts.Instrument; in != nil {
		issuer, tokens, locker, pinger = in.Issuer(issuer), in.Store(tokens), in.Locker(locker), in.Pinger(pinger)
	}
	policy := c.RenewalPolicy()
	idle := c.RenewalIdleTimeout
	if idle == 0 {
		idle = -1 // the configuration's 0 renews for ever; the core's 0 means its default
	}
	lim := limitOptions(cfg.Limits)
	return app.Options{
		MaxServices:        lim.MaxServices,
		TokenRate:          lim.TokenRate,
		TokenBurst:         lim.TokenBurst,
		ClientKeys:         keys,
		RefreshMinInterval: lim.RefreshMinInterval,
		Issuer:             issuer,
		Store:              tokens,
		Locker:             locker,
		Feed:               st.Store,
		Pruner:             st.Store,
		Pinger:             pinger,
		Clock:              opts.Clock,
		Policy:             &policy,
		CheckInterval:      c.RenewalCheckInterval,
		CleanupInterval:    c.CleanupInterval,
		IdleTimeout:        idle,
		LockTTL:            c.LockTTL,
		FetchTimeout:       cfg.TokenService.MaxTimeout(),
		Logger:             opts.Logger,
		OnClose:            st.close,

		StoreTimeout:        cfg.Redis.Timeout,
		Prober:              prober,
		HealthCheckInterval: cfg.TokenService.HealthCheckInterval,
		IssuerHealth:        issuerHealth,
	}
}

// limitOptions maps the configuration's limits onto the core's fields,
// where 0 means the default and a negative value turns a limit off; in
// the configuration 0 turns it off.
func limitOptions(l config.LimitsConfig) app.Options {
	off := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	o := app.Options{MaxServices: off(l.MaxServices), TokenRate: l.TokenRate, TokenBurst: l.TokenBurst,
		RefreshMinInterval: l.RefreshMinInterval}
	if o.TokenRate == 0 {
		o.TokenRate = -1
	}
	if o.RefreshMinInterval == 0 {
		o.RefreshMinInterval = -1
	}
	return o
}

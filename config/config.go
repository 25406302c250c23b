package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// Config is jwtcache's whole configuration. Load fills it from defaults, a
// YAML file and the environment; Default gives the defaults alone. A Config
// built or changed by hand should be checked with Validate.
type Config struct {
	TokenService TokenServiceConfig
	API          APIConfig
	Cache        CacheConfig
	Limits       LimitsConfig
	Redis        RedisConfig
	Server       ServerConfig
	Log          LogConfig
	// Origin says where a loaded Config came from; it is zero for Default.
	Origin Origin
}

// Origin records where a loaded Config came from, for the start-up log.
type Origin struct {
	// File is the YAML file that was read, or "" when there was none.
	File string
	// UnknownKeys are the keys of File that jwtcache does not read, sorted.
	// They are not an error (a Spring file holds many), but a misspelt key
	// shows up here, so cmd should log them.
	UnknownKeys []string
	// Warnings are about a configuration that loads but is probably not
	// what was meant: a JWT_, REDIS_ or CACHE_ variable jwtcache does not
	// read (a misspelt one, with the closest known name), or a CACHE_TTL
	// under a minute. cmd logs them at start-up; none holds a value.
	Warnings []Warning
}

// AuthMethod is how the client authenticates to the token endpoint
// (RFC 6749 §2.3.1).
type AuthMethod string

const (
	// AuthClientSecretBasic sends the client id and secret in an HTTP Basic
	// Authorization header, as the guide's curl example does.
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthClientSecretPost sends them as client_id and client_secret form
	// fields.
	AuthClientSecretPost AuthMethod = "client_secret_post"
	// AuthPrivateKeyJWT sends a JWT signed with the client's private key
	// (RFC 7523 §2.2, OpenID Connect Core §9); no secret is sent.
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthTLSClientAuth and AuthSelfSignedTLSClientAuth authenticate with
	// the TLS client certificate (RFC 8705 §2); client_id is sent in the
	// form, no secret.
	AuthTLSClientAuth           AuthMethod = "tls_client_auth"
	AuthSelfSignedTLSClientAuth AuthMethod = "self_signed_tls_client_auth"
)

// SigningAlg is the JWS algorithm of a private_key_jwt client assertion.
type SigningAlg string

const (
	// SigningRS256 is RSASSA-PKCS1-v1_5 with SHA-256, for RSA keys.
	SigningRS256 SigningAlg = "RS256"
	// SigningES256 is ECDSA P-256 with SHA-256, for EC keys.
	SigningES256 SigningAlg = "ES256"
)

// TokenServiceConfig is how to reach the OAuth2 token endpoint.
type TokenServiceConfig struct {
	// URL is the token endpoint, http or https. Empty means not configured:
	// cmd then starts the dev issuer in dev mode and otherwise refuses to
	// start, naming JWT_TOKEN_SERVICE_URL.
	URL string
	// ClientID and ClientSecret are required when URL is set.
	ClientID     string
	ClientSecret Secret
	// AuthMethod is how the client authenticates. Load infers it when
	// JWT_CLIENT_AUTH_METHOD is unset: private_key_jwt when PrivateKeyFile
	// is set, else client_secret_basic.
	AuthMethod AuthMethod
	// PrivateKeyFile is the PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC)
	// that signs private_key_jwt assertions; required for that method.
	PrivateKeyFile string
	// KeyID is sent as the assertion's kid header when not empty.
	KeyID string
	// SigningAlg is RS256 or ES256; empty means the one the key's type
	// calls for.
	SigningAlg SigningAlg
	// Scope is sent as the scope parameter when not empty.
	Scope string
	// Audience is sent as the audience parameter when not empty (some
	// servers call it resource).
	Audience  string
	GrantType string
	// Timeout bounds one token request.
	Timeout time.Duration
	// NegativeCache is how long a definitive refusal (invalid_client,
	// unauthorized_client, invalid_scope, invalid_request, invalid_grant,
	// unsupported_grant_type) is remembered and repeated without asking the
	// token service again; 0 turns it off.
	NegativeCache time.Duration
	// MinTokenLifetime is the least a new token must have left when it
	// arrives, or it is refused (a quarter of expires_in for tokens whose
	// expires_in is shorter than four times this); 0 refuses only expired
	// tokens.
	MinTokenLifetime time.Duration
	// HealthCheckInterval is how often the token endpoints are probed
	// (ports.IssuerProber) for the health check; more than 0.
	HealthCheckInterval time.Duration
	// IssuerURL replaces URL: the token endpoint comes from its discovery
	// document, refreshed every IssuerRefresh.
	IssuerURL     string
	IssuerRefresh time.Duration
	// ClientSecretFile holds the secret instead of ClientSecret, read again
	// when it changes.
	ClientSecretFile string
	// ClientCertFile and ClientCertKeyFile are the TLS client certificate
	// and its key (mutual TLS, RFC 8705).
	ClientCertFile    string
	ClientCertKeyFile string
	// CAFile adds CA certificates to the system's roots for the token
	// service and the issuer.
	CAFile string
	// Services holds the per-service clients of the YAML mapping
	// jwt.services, by service name; a name not listed uses the fields
	// above. There is no environment form: variable names cannot carry a
	// service name such as data-processor.
	Services map[string]ServiceClientConfig
	// StrictServices refuses tokens for names not in Services
	// (domain.ErrUnknownService, 404 unknown_service in the REST API).
	StrictServices bool
}

// Configured reports whether a token endpoint, or an issuer to discover
// it from, is set.
func (t TokenServiceConfig) Configured() bool { return t.URL != "" || t.IssuerURL != "" }

// ServiceNames are the names of Services, sorted.
func (t TokenServiceConfig) ServiceNames() []string {
	return slices.Sorted(maps.Keys(t.Services))
}

// MaxTimeout is the longest request timeout of any client, the default or
// a service's: what the core's own bound on one token-service call must
// allow, and what JWT_LOCK_TTL must exceed.
func (t TokenServiceConfig) MaxTimeout() time.Duration {
	d := t.Timeout
	for _, s := range t.Services {
		d = max(d, s.Timeout)
	}
	return d
}

// ServiceClientConfig overrides the default client for one service (YAML
// jwt.services.<name>). An empty field takes the default client's value,
// with one exception that keeps credentials where they belong: a service
// that sets its own URL or ClientID must set its own ClientSecret or
// PrivateKeyFile, since the default client's are never sent to another
// token endpoint or for another client id. The token service adapter
// applies these rules and reports a service that breaks them.
type ServiceClientConfig struct {
	URL          string
	ClientID     string
	ClientSecret Secret
	AuthMethod   AuthMethod
	// PrivateKeyFile, KeyID and SigningAlg are as in TokenServiceConfig;
	// KeyID and SigningAlg are inherited only together with the key.
	PrivateKeyFile string
	KeyID          string
	SigningAlg     SigningAlg
	Scope          string
	// Audience is sent as both audience and the RFC 8707 resource.
	Audience  string
	GrantType string
	// Timeout bounds this service's token requests; 0 takes the default.
	Timeout time.Duration
	// IssuerURL, ClientSecretFile, ClientCertFile and ClientCertKeyFile are
	// as in TokenServiceConfig; the files go with the credentials.
	IssuerURL         string
	ClientSecretFile  string
	ClientCertFile    string
	ClientCertKeyFile string
}

// APIConfig is who may call the REST endpoints that hand out tokens or
// change the cache.
type APIConfig struct {
	// Keys are the API keys of JWT_API_KEYS (or the YAML list).
	Keys []APIKey
	// KeysFile is the file JWT_API_KEYS_FILE names; Load reads its keys
	// into FileKeys.
	KeysFile string
	FileKeys []APIKey
	// ProtectStatus makes the status and statistics endpoints require a
	// key too; health never does.
	ProtectStatus bool
}

// AllKeys is Keys and FileKeys together. None means the token endpoints
// are open to anyone who can reach the port.
func (a APIConfig) AllKeys() []APIKey {
	return slices.Concat(a.Keys, a.FileKeys)
}

// APIKey is one key allowed to call the API, written KEY or
// KEY@service1+service2.
type APIKey struct {
	// Key is the secret the client presents.
	Key Secret
	// Services limits the key to these service names; empty means every
	// service.
	Services []string
}

// CacheType is where tokens are cached.
type CacheType string

const (
	// CacheMemory keeps tokens in this process only.
	CacheMemory CacheType = "memory"
	// CacheRedis keeps tokens in Redis, shared by every replica.
	CacheRedis CacheType = "redis"
)

// CacheConfig is how tokens are cached and renewed.
type CacheConfig struct {
	// Type is memory or redis. Load infers it when CACHE_TYPE is unset:
	// redis when a Redis host or address list is set, else memory.
	Type CacheType
	// RenewalBuffer is how long before expiry a token stops being fresh
	// (the guide's cacheExpiresAt = expiresAt − buffer).
	RenewalBuffer time.Duration
	// RenewalCheckInterval is how often the scheduler looks for tokens to
	// renew (the guide's 30 s renewal task).
	RenewalCheckInterval time.Duration
	// RenewalIdleTimeout stops renewing a token nobody asked for in this
	// long; 0 renews forever.
	RenewalIdleTimeout time.Duration
	// CleanupInterval is how often expired tokens are removed (the guide's
	// one-minute cleanup task).
	CleanupInterval time.Duration
	// LockTTL is how long a renewal lock lives if its holder dies; it is
	// longer than TokenServiceConfig.Timeout so that a live renewer never
	// loses its lock mid-request.
	LockTTL time.Duration
	// TTL caps the lifetime of a cached entry in either store (a Redis
	// key's TTL) whatever the token's own expiry.
	TTL time.Duration
	// EncryptionKey, when set, seals every value the Redis store writes
	// (AES-256-GCM; 32 bytes, base64). PreviousEncryptionKeys
	// (comma-separated, base64) still open values sealed before a rotation.
	EncryptionKey          Secret
	PreviousEncryptionKeys Secret
}

// EncryptionKeys are the keys of the Redis store's sealing, current first,
// or nil when encryption is off. Load has checked them; the error is for a
// Config built by hand, and names the variable, never the key.
func (c CacheConfig) EncryptionKeys() ([][]byte, error) {
	if c.EncryptionKey == "" {
		return nil, nil
	}
	cur, err := ParseEncryptionKey(c.EncryptionKey.Reveal())
	if err != nil {
		return nil, fmt.Errorf("config: JWT_CACHE_ENCRYPTION_KEY: %w", err)
	}
	keys := [][]byte{cur}
	for i, part := range splitSecretList(c.PreviousEncryptionKeys) {
		k, err := ParseEncryptionKey(part)
		if err != nil {
			return nil, fmt.Errorf("config: JWT_CACHE_ENCRYPTION_PREVIOUS_KEYS: entry %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// splitSecretList splits a comma-separated secret list, dropping empty
// entries.
func splitSecretList(s Secret) []string {
	var out []string
	for _, part := range strings.Split(s.Reveal(), ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// RenewalPolicy is the domain policy for RenewalBuffer, with TTL
// (CACHE_TTL) as the longest cached life of a token: the stores drop a
// token then, so the policy renews it ahead of that.
func (c CacheConfig) RenewalPolicy() domain.RenewalPolicy {
	return domain.RenewalPolicy{Buffer: c.RenewalBuffer, MaxLife: c.TTL}
}

// RedisMode is the Redis deployment to talk to, as go-redis's
// UniversalClient picks it from the same fields.
type RedisMode string

const (
	// RedisStandalone is one server (REDIS_HOST:REDIS_PORT or a single
	// REDIS_ADDRS entry).
	RedisStandalone RedisMode = "standalone"
	// RedisCluster is a Redis Cluster: several REDIS_ADDRS, no master name.
	RedisCluster RedisMode = "cluster"
	// RedisSentinel is a Sentinel-managed master: REDIS_MASTER_NAME is set
	// and the addresses are the sentinels'.
	RedisSentinel RedisMode = "sentinel"
)

// RedisConfig is how to reach Redis, with Spring's names and units.
type RedisConfig struct {
	// Host and Port address a single server when Addrs is empty. Load sets
	// Host to "localhost" (Spring's default) when the cache type is redis
	// and no address is configured at all.
	Host string
	Port int
	// Addrs is a host:port list; it overrides Host and Port. Several
	// addresses mean a Redis Cluster, or the sentinels when MasterName is
	// set.
	Addrs []string
	// MasterName selects Sentinel mode.
	MasterName string
	// Username is the ACL user; empty means the default user.
	Username string
	Password Secret
	// Database is the logical database, 0..15; it must be 0 on a cluster.
	Database int
	// TLS dials with TLS.
	TLS bool
	// TLSCAFile, TLSCertFile and TLSKeyFile are PEM files: the private CA
	// that signs the servers' certificates (empty: the system roots), and
	// a client certificate with its key (both or neither). TLSServerName
	// is the name the servers' certificates must carry (empty: the host
	// dialled). They need TLS; Load reads the files.
	TLSCAFile, TLSCertFile, TLSKeyFile string
	TLSServerName                      string
	// Timeout bounds dialling and each command.
	Timeout time.Duration
	// PoolMaxActive is the pool size, or negative (Spring's -1) for "no
	// limit"; see PoolSize.
	PoolMaxActive int
	PoolMaxIdle   int
	PoolMinIdle   int
	// PoolMaxWait is how long to wait for a free connection; negative (the
	// guide's -1ms) means no limit of its own, so the client's default
	// (the command timeout plus a second in go-redis) applies.
	PoolMaxWait time.Duration
	// KeyPrefix starts every key jwtcache writes, so that several
	// deployments can share a database.
	KeyPrefix string
}

// PoolSize is the connection pool size to use: PoolMaxActive, or, for
// Spring's "no limit", 10 per GOMAXPROCS (go-redis's own default), since
// go-redis has no unbounded pool and that size is never the bottleneck of
// a token cache.
func (r RedisConfig) PoolSize() int {
	if r.PoolMaxActive > 0 {
		return r.PoolMaxActive
	}
	return 10 * runtime.GOMAXPROCS(0)
}

// Mode is the Redis deployment the configuration addresses.
func (r RedisConfig) Mode() RedisMode {
	switch {
	case r.MasterName != "":
		return RedisSentinel
	case len(r.Addrs) > 1:
		return RedisCluster
	default:
		return RedisStandalone
	}
}

// DialAddrs is the list of addresses to dial: Addrs when set, else
// Host:Port, else nil.
func (r RedisConfig) DialAddrs() []string {
	if len(r.Addrs) > 0 {
		return slices.Clone(r.Addrs)
	}
	if r.Host == "" {
		return nil
	}
	return []string{net.JoinHostPort(r.Host, strconv.Itoa(r.Port))}
}

// RedisAddrs is c.Redis.DialAddrs().
func (c Config) RedisAddrs() []string { return c.Redis.DialAddrs() }

// ServerConfig is where the REST API listens.
type ServerConfig struct {
	// Address is the interface to listen on; empty means all.
	Address string
	// Port is the TCP port; 0 picks a free one.
	Port int
	// ReadTimeout bounds reading a whole request, headers and body.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its answer; 0 means derived, see Config.ServerWriteTimeout.
	WriteTimeout time.Duration
	// IdleTimeout is how long a keep-alive connection may wait for its
	// next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's line and headers.
	MaxHeaderBytes int
	// MaxConnections bounds the API listener's open connections; 0 means
	// the REST adapter's default (see rest.DefaultMaxConnections).
	MaxConnections int
	// ManagementEnabled is true when MANAGEMENT_PORT is set: probes, health
	// and metrics are then served on ManagementPort too (0 picks a free
	// port), on ManagementAddress.
	ManagementEnabled bool
	ManagementPort    int
	// ManagementAddress is the management listener's interface; empty
	// means Address.
	ManagementAddress string
	// ManagementMaxConnections bounds the management listener's open
	// connections; 0 means the REST adapter's default (see
	// rest.ManagementLimits).
	ManagementMaxConnections int
	// ShutdownTimeout bounds the stop on SIGTERM; 0 means derived, see
	// Config.ShutdownTimeout.
	ShutdownTimeout time.Duration
}

// Addr is the listen address, "address:port" (":8080" for all
// interfaces), with IPv6 addresses bracketed.
func (s ServerConfig) Addr() string {
	return net.JoinHostPort(s.Address, strconv.Itoa(s.Port))
}

// LogLevel is the least severe level logged: debug, info, warn or error.
type LogLevel string

// LogFormat is how log lines are written.
type LogFormat string

const (
	// LogText writes log/slog's key=value text.
	LogText LogFormat = "text"
	// LogJSON writes one JSON object per line.
	LogJSON LogFormat = "json"
)

// LogConfig is how jwtcache logs.
type LogConfig struct {
	Level  LogLevel
	Format LogFormat
}

// SlogLevel is Level as a slog.Level; anything unknown is slog.LevelInfo.
func (l LogConfig) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

// Default returns the defaults of every key, as listed by Keys.
func Default() Config {
	var c Config
	for _, e := range table {
		if p := e.set(&c, e.def); p != "" {
			panic(fmt.Sprintf("config: bad default for %s: %s", e.Env, p))
		}
	}
	c.resolve()
	return c
}

// resolve fills what depends on other keys: the inferred cache type,
// Spring's default Redis host and the inferred client auth method.
func (c *Config) resolve() {
	c.TokenService.resolveAuthMethod()
	if c.Cache.Type == "" {
		c.Cache.Type = CacheMemory
		if c.Redis.Host != "" || len(c.Redis.Addrs) > 0 {
			c.Cache.Type = CacheRedis
		}
	}
	// Only an explicit CACHE_TYPE=redis gets here without an address; Spring
	// then dials localhost, and so do we, rather than refusing to start.
	if c.Cache.Type == CacheRedis && c.Redis.Host == "" && len(c.Redis.Addrs) == 0 {
		c.Redis.Host = "localhost"
	}
}

// FieldError is one problem with one key. Its message names the environment
// variable and the YAML key; Problem never contains a secret. Env is empty
// for the YAML-only keys under jwt.services.
type FieldError struct {
	Env     string
	YAML    string
	Problem string
}

// Error is "config: ENV (yaml.key): problem", or "config: yaml.key:
// problem" for a key without a variable.
func (e *FieldError) Error() string {
	if e.Env == "" {
		return "config: " + e.YAML + ": " + e.Problem
	}
	return "config: " + e.Env + " (" + e.YAML + "): " + e.Problem
}

// fieldError builds the FieldError of the key whose environment variable is
// env.
func fieldError(env, problem string) *FieldError {
	return &FieldError{Env: env, YAML: byEnv[env].YAML, Problem: problem}
}

// ref names a key in a message about another key: "ENV (yaml.key)".
func ref(env string) string { return env + " (" + byEnv[env].YAML + ")" }

// Validate reports every problem of c, each as a *FieldError, joined with
// errors.Join: values out of range and combinations that cannot work. Load
// calls it; call it again after changing a Config by hand.
func (c Config) Validate() error { return errors.Join(c.problems()...) }

func (c Config) problems() []error {
	var errs []error
	for _, e := range table {
		if e.check == nil {
			continue
		}
		if p := e.check(&c); p != "" {
			errs = append(errs, fieldError(e.Env, p))
		}
	}

	ts := c.TokenService
	if ts.Configured() {
		need := " is required when " + ref(ts.endpointKey()) + " is set"
		if strings.TrimSpace(ts.ClientID) == "" {
			errs = append(errs, fieldError("JWT_CLIENT_ID", "a client id"+need))
		}
		if !ts.hasCredentials() && ts.AuthMethod != AuthPrivateKeyJWT && !ts.AuthMethod.usesCertificate() {
			errs = append(errs, fieldError("JWT_CLIENT_SECRET", "a client secret"+need+
				", unless "+ref("JWT_CLIENT_SECRET_FILE")+", "+ref("JWT_CLIENT_PRIVATE_KEY_FILE")+" or "+ref("JWT_CLIENT_CERT_FILE")+" is set"))
		}
		if strings.TrimSpace(ts.GrantType) == "" {
			errs = append(errs, fieldError("JWT_GRANT_TYPE", "a grant type"+need))
		}
	}
	switch {
	case ts.AuthMethod == AuthPrivateKeyJWT && ts.PrivateKeyFile == "":
		errs = append(errs, fieldError("JWT_CLIENT_PRIVATE_KEY_FILE",
			"a private key file is required when "+ref("JWT_CLIENT_AUTH_METHOD")+" is private_key_jwt"))
	case ts.AuthMethod != AuthPrivateKeyJWT && ts.AuthMethod != "" && ts.PrivateKeyFile != "":
		errs = append(errs, fieldError("JWT_CLIENT_PRIVATE_KEY_FILE", fmt.Sprintf(
			"is set but %s is %s, which does not use it; set it to private_key_jwt or leave it unset",
			ref("JWT_CLIENT_AUTH_METHOD"), ts.AuthMethod)))
	}
	errs = append(errs, c.serviceProblems()...)
	errs = append(errs, c.credentialProblems()...)
	if ts.StrictServices && len(ts.Services) == 0 {
		errs = append(errs, fieldError("JWT_STRICT_SERVICES",
			"true, but jwt.services lists no service: every token request would be refused"))
	}

	if c.Cache.LockTTL > 0 {
		limit, limitKey := ts.Timeout, ref("JWT_TOKEN_TIMEOUT")
		for _, name := range ts.ServiceNames() {
			if d := ts.Services[name].Timeout; d > limit {
				limit, limitKey = d, serviceKey(name, "timeout")
			}
		}
		if c.Cache.LockTTL <= limit {
			errs = append(errs, fieldError("JWT_LOCK_TTL", fmt.Sprintf(
				"%s must be longer than %s %s, or a lock could expire while its renewer still waits for the token service",
				c.Cache.LockTTL, limitKey, limit)))
		}
	}

	errs = append(errs, c.serverProblems()...)
	errs = append(errs, c.shutdownProblems()...)

	r := c.Redis
	if r.PoolMinIdle > r.PoolMaxIdle && r.PoolMaxIdle >= 0 {
		errs = append(errs, fieldError("REDIS_POOL_MIN_IDLE", fmt.Sprintf(
			"%d is more than %s %d", r.PoolMinIdle, ref("REDIS_POOL_MAX_IDLE"), r.PoolMaxIdle)))
	}
	if c.Cache.Type == CacheRedis && len(r.DialAddrs()) == 0 {
		errs = append(errs, fieldError("CACHE_TYPE", "redis needs "+ref("REDIS_HOST")+" or "+ref("REDIS_ADDRS")))
	}
	errs = append(errs, r.tlsProblems()...)
	if r.Mode() == RedisCluster && r.Database != 0 {
		errs = append(errs, fieldError("REDIS_DATABASE", fmt.Sprintf(
			"%d: a Redis Cluster (several %s) has only database 0", r.Database, ref("REDIS_ADDRS"))))
	}
	return errs
}

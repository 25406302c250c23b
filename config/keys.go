package config

import (
	"slices"
	"strings"
	"time"
)

// KeyDoc documents one configuration key.
type KeyDoc struct {
	// Env is the environment variable, by the guide's exact name.
	Env string
	// YAML is the dotted key in the YAML file, in the guide's Spring tree.
	YAML string
	// Type is the accepted format.
	Type string
	// Default is the value used when the key is set nowhere.
	Default string
	// Meaning says what the key does.
	Meaning string
	// Secret is true for keys whose value is never shown.
	Secret bool
}

// entry is one row of the table: its documentation, its raw default (what
// Default and Load parse when nothing else sets the key) and its binding.
type entry struct {
	KeyDoc
	def string
	binding
}

// Type texts shared by several rows.
const (
	durSeconds = "duration; a bare number is seconds (20), or 20s, 1m30s, 7d, PT20S"
	durMillis  = "duration; a bare number is milliseconds (2000), or 2000ms, 2s, PT2S"
)

// table is the single source of truth for every key: Keys, MarkdownTable,
// Default, Load and Validate all read it.
var table = []entry{
	// Token service.
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_SERVICE_URL", YAML: "jwt.token.service.url", Type: "http or https URL", Default: "(none)",
		Meaning: "OAuth2 token endpoint. Unset means not configured: jwtcache then refuses to start, naming this variable, unless in dev mode, which starts the dev issuer"},
		binding: urlValue(func(c *Config) *string { return &c.TokenService.URL })},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_ISSUER_URL", YAML: "jwt.token.issuer.url", Type: "http or https URL", Default: "(none)",
		Meaning: "instead of JWT_TOKEN_SERVICE_URL: the OAuth2 issuer whose discovery document (/.well-known/openid-configuration or RFC 8414 oauth-authorization-server) gives the token endpoint and the auth methods it supports; its issuer must equal this URL exactly. Fetched at start-up (an unreachable issuer is retried with backoff, token requests fail with 503 meanwhile) and every JWT_TOKEN_ISSUER_REFRESH"},
		binding: urlValue(func(c *Config) *string { return &c.TokenService.IssuerURL })},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_ID", YAML: "jwt.token.client.id", Type: "string", Default: "(none)",
		Meaning: "OAuth2 client id; required when JWT_TOKEN_SERVICE_URL is set"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.ClientID }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_SECRET", YAML: "jwt.token.client.secret", Type: "secret string", Default: "(none)", Secret: true,
		Meaning: "OAuth2 client secret; required when JWT_TOKEN_SERVICE_URL is set. Never logged or shown"},
		binding: secretValue(func(c *Config) *Secret { return &c.TokenService.ClientSecret })},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_SECRET_FILE", YAML: "jwt.token.client.secret-file", Type: "file path", Default: "(none)",
		Meaning: "file holding the client secret instead of JWT_CLIENT_SECRET (a mounted Kubernetes secret, a Vault Agent template); one final line break is ignored. Read again when it changes (checked at most once a second, and at once when the token service answers invalid_client): no restart. An unreadable or empty file keeps the last good secret and makes health DEGRADED"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.ClientSecretFile }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_AUTH_METHOD", YAML: "jwt.token.client.auth-method", Type: "client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth",
		Default: "the first the credentials allow: private_key_jwt if JWT_CLIENT_PRIVATE_KEY_FILE is set, client_secret_basic with a secret, tls_client_auth with only JWT_CLIENT_CERT_FILE; with JWT_TOKEN_ISSUER_URL, the first of these (then client_secret_post, self_signed_tls_client_auth) that the issuer supports",
		Meaning: "how the client authenticates: HTTP Basic header, client_id/client_secret form fields, a JWT signed with its private key (RFC 7523), or its TLS client certificate (RFC 8705), the last three with no secret"},
		binding: authMethodValue(func(c *Config) *AuthMethod { return &c.TokenService.AuthMethod })},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_PRIVATE_KEY_FILE", YAML: "jwt.token.client.private-key-file", Type: "file path (PEM: PKCS#8, PKCS#1 RSA or SEC1 EC, unencrypted)", Default: "(none)",
		Meaning: "private key signing the private_key_jwt client assertions; required for that method. Read again when it changes, like JWT_CLIENT_SECRET_FILE; never logged"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.PrivateKeyFile }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_KEY_ID", YAML: "jwt.token.client.key-id", Type: "string", Default: "(none)",
		Meaning: "kid header of the private_key_jwt client assertions; none sent when unset"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.KeyID }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_SIGNING_ALG", YAML: "jwt.token.client.signing-alg", Type: "RS256 or ES256",
		Default: "RS256 for an RSA key, ES256 for an EC P-256 key",
		Meaning: "signature algorithm of the private_key_jwt client assertions"},
		binding: signingAlgValue(func(c *Config) *SigningAlg { return &c.TokenService.SigningAlg })},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_CERT_FILE", YAML: "jwt.token.client.cert-file", Type: "file path (PEM certificate, leaf first)", Default: "(none)",
		Meaning: "TLS client certificate presented to the token service (mutual TLS, RFC 8705): required for tls_client_auth and self_signed_tls_client_auth, and binds tokens to it with any method. Read again when it changes, like JWT_CLIENT_SECRET_FILE"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.ClientCertFile }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_CLIENT_CERT_KEY_FILE", YAML: "jwt.token.client.cert-key-file", Type: "file path (PEM private key, unencrypted)", Default: "(none)",
		Meaning: "private key of JWT_CLIENT_CERT_FILE; set both or neither. Never logged"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.ClientCertKeyFile }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_SERVICE_CA_FILE", YAML: "jwt.token.service.ca-file", Type: "file path (PEM certificates)", Default: "(none)",
		Meaning: "CA certificates trusted for the token service and the issuer in addition to the system's roots (a company CA); read at start-up"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.CAFile }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_ISSUER_REFRESH", YAML: "jwt.token.issuer.refresh", Type: durSeconds,
		Meaning: "how often the issuer's discovery document is fetched again; a failed fetch keeps the last one and is retried with backoff (1s doubling to 1m)"},
		def:     "1h",
		binding: durationValue(func(c *Config) *time.Duration { return &c.TokenService.IssuerRefresh }, time.Second, positive)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_SCOPE", YAML: "jwt.token.scope", Type: "string (space-separated scopes)", Default: "(none)",
		Meaning: "scope requested with every token; none sent when unset"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.Scope }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_AUDIENCE", YAML: "jwt.token.audience", Type: "string", Default: "(none)",
		Meaning: "audience (resource) requested with every token; none sent when unset"},
		binding: stringValue(func(c *Config) *string { return &c.TokenService.Audience }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_GRANT_TYPE", YAML: "jwt.token.grant.type", Type: "string",
		Meaning: "grant_type sent to the token endpoint"},
		def:     "client_credentials",
		binding: stringValue(func(c *Config) *string { return &c.TokenService.GrantType }, nil)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_TIMEOUT", YAML: "jwt.token.timeout", Type: durSeconds,
		Meaning: "time limit of one token request; must be more than 0"},
		def:     "10s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.TokenService.Timeout }, time.Second, positive)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_NEGATIVE_CACHE", YAML: "jwt.token.negative-cache", Type: durSeconds,
		Meaning: "how long a definitive refusal (invalid_client, unauthorized_client, invalid_scope, invalid_request, invalid_grant, unsupported_grant_type) is remembered per client and repeated without asking the token service again; 0 turns it off"},
		def:     "30s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.TokenService.NegativeCache }, time.Second, nonNegative)},
	{KeyDoc: KeyDoc{Env: "JWT_MIN_TOKEN_LIFETIME", YAML: "jwt.token.min-lifetime", Type: durSeconds,
		Meaning: "a new token that has less than this left when it arrives (an exp in the past or just ahead, a clock problem at the token service) is refused as 502 token_service_bad_response and never cached; for tokens whose expires_in is shorter than 4 times this, a quarter of expires_in. 0 refuses only expired tokens"},
		def:     "10s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.TokenService.MinTokenLifetime }, time.Second, nonNegative)},
	{KeyDoc: KeyDoc{Env: "JWT_HEALTH_CHECK_INTERVAL", YAML: "jwt.token.service.health-check-interval", Type: durSeconds,
		Meaning: "how often each distinct token endpoint is probed for the health check, without obtaining a token (a request without client credentials); at least 1s, so that probes cannot hammer the token service"},
		def:     "30s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.TokenService.HealthCheckInterval }, time.Second, durationAtLeast(MinHealthCheckInterval))},
	{KeyDoc: KeyDoc{Env: "JWT_STRICT_SERVICES", YAML: "jwt.services-strict", Type: "boolean (true/false, yes/no, on/off, 1/0)",
		Meaning: "serve only the service names listed under jwt.services (YAML); any other name is 404 unknown_service"},
		def:     "false",
		binding: boolValue(func(c *Config) *bool { return &c.TokenService.StrictServices })},

	// Cache and renewal.
	{KeyDoc: KeyDoc{Env: "JWT_RENEWAL_BUFFER", YAML: "jwt.token.cache.renewal.buffer", Type: durSeconds,
		Meaning: "how long before expiry a token is renewed (cacheExpiresAt = expiresAt - buffer); at least 0"},
		def:     "20s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.RenewalBuffer }, time.Second, nonNegative)},
	{KeyDoc: KeyDoc{Env: "JWT_RENEWAL_CHECK_INTERVAL", YAML: "jwt.token.cache.renewal.check-interval", Type: durSeconds,
		Meaning: "how often the scheduler looks for tokens to renew (a safety net: each token has its own timer); jittered ±10% per replica; more than 0"},
		def:     "30s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.RenewalCheckInterval }, time.Second, positive)},
	{KeyDoc: KeyDoc{Env: "JWT_RENEWAL_IDLE_TIMEOUT", YAML: "jwt.token.cache.renewal.idle-timeout", Type: durSeconds,
		Meaning: "a token nobody asked for in this long is no longer renewed; 0 renews forever"},
		def:     "1h",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.RenewalIdleTimeout }, time.Second, nonNegative)},
	{KeyDoc: KeyDoc{Env: "JWT_CLEANUP_INTERVAL", YAML: "jwt.token.cache.cleanup-interval", Type: durSeconds,
		Meaning: "how often expired tokens are removed (from the near cache, and from the Redis index by expiry score alone, reading no token); jittered ±10% per replica; more than 0"},
		def:     "60s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.CleanupInterval }, time.Second, positive)},
	{KeyDoc: KeyDoc{Env: "JWT_LOCK_TTL", YAML: "jwt.token.cache.lock-ttl", Type: durSeconds,
		Meaning: "expiry of a renewal lock whose holder died; must be longer than JWT_TOKEN_TIMEOUT"},
		def:     "30s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.LockTTL }, time.Second, positive)},
	{KeyDoc: KeyDoc{Env: "CACHE_TYPE", YAML: "spring.cache.type", Type: "memory or redis",
		Default: "redis if REDIS_HOST or REDIS_ADDRS is set, else memory",
		Meaning: "where tokens are cached: this process only, or Redis shared by all replicas"},
		binding: enumValue(func(c *Config) *CacheType { return &c.Cache.Type }, CacheMemory, CacheRedis)},
	{KeyDoc: KeyDoc{Env: "CACHE_TTL", YAML: "spring.cache.redis.time-to-live", Type: durMillis,
		Meaning: "longest cached life of a token, counted from its fetch: both stores, memory and Redis, drop it then (a Redis key's TTL) and it is renewed ahead of that, so set it at least as long as your tokens to renew once per token lifetime; more than 0"},
		def:     "30m",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Cache.TTL }, time.Millisecond, positive)},

	{KeyDoc: KeyDoc{Env: "JWT_CACHE_ENCRYPTION_KEY", YAML: "jwt.token.cache.encryption.key", Type: "secret: 32 bytes in base64 (openssl rand -base64 32)", Default: "(none)", Secret: true,
		Meaning: "seals every value in Redis with AES-256-GCM, bound to its key name; unset stores readable JSON"},
		binding: encryptionKeyValue(func(c *Config) *Secret { return &c.Cache.EncryptionKey }, false)},
	{KeyDoc: KeyDoc{Env: "JWT_CACHE_ENCRYPTION_PREVIOUS_KEYS", YAML: "jwt.token.cache.encryption.previous-keys", Type: "secret: comma-separated base64 keys", Default: "(none)", Secret: true,
		Meaning: "keys that still open values sealed before a rotation; values are re-sealed with JWT_CACHE_ENCRYPTION_KEY as tokens renew"},
		binding: encryptionKeyValue(func(c *Config) *Secret { return &c.Cache.PreviousEncryptionKeys }, true)},

	// Limits on what callers can make jwtcache do.
	{KeyDoc: KeyDoc{Env: "JWT_MAX_SERVICES", YAML: "jwt.token.cache.max-services", Type: "integer >= 0",
		Meaning: "most service names held at once; a new name beyond it, with nothing cached, is refused with 503 too_many_services without a token-service call, while names held keep working. 0 means no limit"},
		def:     "10000",
		binding: intValue(func(c *Config) *int { return &c.Limits.MaxServices }, intAtLeast(0))},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_RATE", YAML: "jwt.token.rate", Type: "number: 0, or at least 0.001 (20, 0.5)",
		Meaning: "token-service calls a second that callers may cause (misses, forced refreshes) per token-service client, after a burst of JWT_TOKEN_BURST; beyond it 429 rate_limited with Retry-After. Background renewals are never refused but count. 0 turns the budget off; otherwise at least 0.001 (one call every 1000 s)"},
		def:     "20",
		binding: floatValue(func(c *Config) *float64 { return &c.Limits.TokenRate }, tokenRate)},
	{KeyDoc: KeyDoc{Env: "JWT_TOKEN_BURST", YAML: "jwt.token.burst", Type: "integer >= 1",
		Meaning: "token-service calls a client may make at once before JWT_TOKEN_RATE applies: a cold start of up to this many service names gets through without waiting"},
		def:     "500",
		binding: intValue(func(c *Config) *int { return &c.Limits.TokenBurst }, intAtLeast(1))},
	{KeyDoc: KeyDoc{Env: "JWT_REFRESH_MIN_INTERVAL", YAML: "jwt.token.cache.refresh.min-interval", Type: durSeconds,
		Meaning: "least time between two forced refreshes of a service reaching the token service: a POST /refresh within it answers 200 with the previous refresh's token and a message saying so. 0 turns it off"},
		def:     "5s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Limits.RefreshMinInterval }, time.Second, nonNegative)},

	// Redis.
	{KeyDoc: KeyDoc{Env: "REDIS_HOST", YAML: "spring.data.redis.host", Type: "host name or IP address",
		Default: "(none); localhost when CACHE_TYPE=redis and no address is set",
		Meaning: "Redis server host"},
		binding: hostValue(func(c *Config) *string { return &c.Redis.Host })},
	{KeyDoc: KeyDoc{Env: "REDIS_PORT", YAML: "spring.data.redis.port", Type: "integer 1..65535",
		Meaning: "Redis server port"},
		def:     "6379",
		binding: intValue(func(c *Config) *int { return &c.Redis.Port }, intRange(1, 65535))},
	{KeyDoc: KeyDoc{Env: "REDIS_ADDRS", YAML: "spring.data.redis.cluster.nodes", Type: "comma-separated host:port list (or a YAML list)", Default: "(none)",
		Meaning: "Redis addresses, overriding REDIS_HOST and REDIS_PORT: several mean a Redis Cluster, or the sentinels with REDIS_MASTER_NAME"},
		binding: addrListValue(func(c *Config) *[]string { return &c.Redis.Addrs })},
	{KeyDoc: KeyDoc{Env: "REDIS_MASTER_NAME", YAML: "spring.data.redis.sentinel.master", Type: "string", Default: "(none)",
		Meaning: "Sentinel master name; setting it selects Sentinel, at REDIS_ADDRS or REDIS_HOST:REDIS_PORT"},
		binding: stringValue(func(c *Config) *string { return &c.Redis.MasterName }, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_USERNAME", YAML: "spring.data.redis.username", Type: "string", Default: "(none)",
		Meaning: "Redis ACL user; the default user when unset"},
		binding: stringValue(func(c *Config) *string { return &c.Redis.Username }, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_PASSWORD", YAML: "spring.data.redis.password", Type: "secret string", Default: "(none)", Secret: true,
		Meaning: "Redis password. Never logged or shown"},
		binding: secretValue(func(c *Config) *Secret { return &c.Redis.Password })},
	{KeyDoc: KeyDoc{Env: "REDIS_DATABASE", YAML: "spring.data.redis.database", Type: "integer 0..15",
		Meaning: "Redis logical database; must be 0 on a cluster"},
		def:     "0",
		binding: intValue(func(c *Config) *int { return &c.Redis.Database }, intRange(0, 15))},
	{KeyDoc: KeyDoc{Env: "REDIS_TLS", YAML: "spring.data.redis.ssl.enabled", Type: "boolean (true/false, yes/no, on/off, 1/0)",
		Meaning: "dial Redis with TLS"},
		def:     "false",
		binding: boolValue(func(c *Config) *bool { return &c.Redis.TLS })},
	{KeyDoc: KeyDoc{Env: "REDIS_TLS_CA_FILE", YAML: "spring.data.redis.ssl.ca-file", Type: "file path (PEM certificates)", Default: "(none): the system roots",
		Meaning: "CA certificates that sign the Redis servers' certificates (a private CA); needs REDIS_TLS=true. Read at start-up"},
		binding: stringValue(func(c *Config) *string { return &c.Redis.TLSCAFile }, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_TLS_CERT_FILE", YAML: "spring.data.redis.ssl.cert-file", Type: "file path (PEM certificate)", Default: "(none)",
		Meaning: "client certificate presented to Redis servers that require one (tls-auth-clients yes); needs REDIS_TLS_KEY_FILE and REDIS_TLS=true. Read at start-up"},
		binding: stringValue(func(c *Config) *string { return &c.Redis.TLSCertFile }, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_TLS_KEY_FILE", YAML: "spring.data.redis.ssl.key-file", Type: "file path (PEM private key, unencrypted)", Default: "(none)",
		Meaning: "private key of REDIS_TLS_CERT_FILE; needs it and REDIS_TLS=true. Read at start-up, never logged"},
		binding: stringValue(func(c *Config) *string { return &c.Redis.TLSKeyFile }, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_TLS_SERVER_NAME", YAML: "spring.data.redis.ssl.server-name", Type: "host name (RFC 1123) or IP address", Default: "(none): the host of each address",
		Meaning: "name the Redis servers' certificates must carry, when it is not the host dialled (an IP address, or every node of a cluster behind one certificate)"},
		binding: serverNameValue(func(c *Config) *string { return &c.Redis.TLSServerName })},
	{KeyDoc: KeyDoc{Env: "REDIS_TIMEOUT", YAML: "spring.data.redis.timeout", Type: durMillis,
		Meaning: "time limit of dialling and of each Redis command; on a request's path (renewal-lock waits included) a replica goes on without Redis after it, and /status and /statistics answer within it from the replica's own near cache; more than 0"},
		def:     "2000ms",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Redis.Timeout }, time.Millisecond, positive)},
	{KeyDoc: KeyDoc{Env: "REDIS_POOL_MAX_ACTIVE", YAML: "spring.data.redis.lettuce.pool.max-active", Type: "integer >= 1, or -1",
		Meaning: "connection pool size; -1 (Spring's \"no limit\") means 10 per CPU, go-redis's default"},
		def:     "8",
		binding: intValue(func(c *Config) *int { return &c.Redis.PoolMaxActive }, poolMaxActive)},
	{KeyDoc: KeyDoc{Env: "REDIS_POOL_MAX_IDLE", YAML: "spring.data.redis.lettuce.pool.max-idle", Type: "integer >= 0",
		Meaning: "most idle connections kept open"},
		def:     "8",
		binding: intValue(func(c *Config) *int { return &c.Redis.PoolMaxIdle }, intAtLeast(0))},
	{KeyDoc: KeyDoc{Env: "REDIS_POOL_MIN_IDLE", YAML: "spring.data.redis.lettuce.pool.min-idle", Type: "integer >= 0",
		Meaning: "idle connections kept open ahead of need; at most REDIS_POOL_MAX_IDLE"},
		def:     "0",
		binding: intValue(func(c *Config) *int { return &c.Redis.PoolMinIdle }, intAtLeast(0))},
	{KeyDoc: KeyDoc{Env: "REDIS_POOL_MAX_WAIT", YAML: "spring.data.redis.lettuce.pool.max-wait", Type: durMillis,
		Meaning: "how long to wait for a free connection; negative (-1ms) means no limit of its own: REDIS_TIMEOUT plus 1s"},
		def:     "-1ms",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Redis.PoolMaxWait }, time.Millisecond, nil)},
	{KeyDoc: KeyDoc{Env: "REDIS_KEY_PREFIX", YAML: "spring.data.redis.key-prefix", Type: "1 to 64 of A-Z a-z 0-9 _ . -",
		Meaning: "prefix of every Redis key jwtcache writes"},
		def:     "jwtcache",
		binding: stringValue(func(c *Config) *string { return &c.Redis.KeyPrefix }, checkKeyPrefix)},

	// Who may call the API.
	{KeyDoc: KeyDoc{Env: "JWT_API_KEYS", YAML: "jwt.api.keys", Type: "secret: comma-separated KEY or KEY@service1+service2 (or a YAML list)", Default: "(none)", Secret: true,
		Meaning: "API keys that may call the token, bearer, refresh and evict endpoints (Authorization: Bearer KEY or X-API-Key: KEY); @ limits a key to those services. Keys are 16 to 512 visible ASCII characters other than ',' and '@'. None means those endpoints are open (logged at start-up). Never logged or shown"},
		binding: apiKeysValue(func(c *Config) *[]APIKey { return &c.API.Keys })},
	{KeyDoc: KeyDoc{Env: "JWT_API_KEYS_FILE", YAML: "jwt.api.keys-file", Type: "file path", Default: "(none)",
		Meaning: "file of more API keys, one entry per line as in JWT_API_KEYS, '#' starting a comment line (a mounted Kubernetes secret); added to JWT_API_KEYS. At most 1 MiB, like every credential file: a larger one stops start-up. Read again when it changes (at most once a second): the REST API accepts the new keys without a restart; a file that becomes unreadable or holds no valid key keeps the last good keys"},
		binding: apiKeysFileValue(func(c *Config) *string { return &c.API.KeysFile }, func(c *Config) *[]APIKey { return &c.API.FileKeys })},
	{KeyDoc: KeyDoc{Env: "JWT_API_PROTECT_STATUS", YAML: "jwt.api.protect-status", Type: "boolean (true/false, yes/no, on/off, 1/0)",
		Meaning: "require an API key for the status, statistics and event endpoints and the console too; health stays open for probes"},
		def:     "false",
		binding: boolValue(func(c *Config) *bool { return &c.API.ProtectStatus })},

	// Server and logging.
	{KeyDoc: KeyDoc{Env: "SERVER_PORT", YAML: "server.port", Type: "integer 0..65535",
		Meaning: "REST API port; 0 picks a free port"},
		def:     "8080",
		binding: intValue(func(c *Config) *int { return &c.Server.Port }, intRange(0, 65535))},
	{KeyDoc: KeyDoc{Env: "SERVER_ADDRESS", YAML: "server.address", Type: "host name or IP address", Default: "(all interfaces)",
		Meaning: "REST API listen address"},
		binding: hostValue(func(c *Config) *string { return &c.Server.Address })},
	{KeyDoc: KeyDoc{Env: "SERVER_READ_TIMEOUT", YAML: "server.read-timeout", Type: durMillis,
		Meaning: "time limit of reading one request, headers and body; a client that sends slower is disconnected. More than 0"},
		def:     "10s",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Server.ReadTimeout }, time.Millisecond, positive)},
	{KeyDoc: KeyDoc{Env: "SERVER_WRITE_TIMEOUT", YAML: "server.write-timeout", Type: durMillis,
		Default: "JWT_LOCK_TTL + the longest token request timeout + 20s (60s with their defaults)",
		Meaning: "time limit from the end of a request's headers to the end of its answer; must be longer than the longest wait for a token, JWT_LOCK_TTL + the longest token request timeout. 0 means the default"},
		binding: durationValue(func(c *Config) *time.Duration { return &c.Server.WriteTimeout }, time.Millisecond, nonNegative)},
	{KeyDoc: KeyDoc{Env: "SERVER_SHUTDOWN_TIMEOUT", YAML: "spring.lifecycle.timeout-per-shutdown-phase", Type: durMillis,
		Default: "JWT_LOCK_TTL + the longest token request timeout + 3s + REDIS_TIMEOUT + 5s (50s with their defaults)",
		Meaning: "time limit of the whole stop on SIGTERM: requests in flight get all but the last REDIS_TIMEOUT + 5s, which is kept for releasing renewal locks and closing the store. Must be longer than that; shorter than the default cuts requests waiting for a token. terminationGracePeriodSeconds must cover it plus the preStop sleep. 0 means the default"},
		binding: durationValue(func(c *Config) *time.Duration { return &c.Server.ShutdownTimeout }, time.Millisecond, nonNegative)},
	{KeyDoc: KeyDoc{Env: "SERVER_IDLE_TIMEOUT", YAML: "server.idle-timeout", Type: durMillis,
		Meaning: "how long a keep-alive connection may wait for its next request; longer than a load balancer's own idle timeout. More than 0"},
		def:     "2m",
		binding: durationValue(func(c *Config) *time.Duration { return &c.Server.IdleTimeout }, time.Millisecond, positive)},
	{KeyDoc: KeyDoc{Env: "SERVER_MAX_HEADER_BYTES", YAML: "server.max-http-request-header-size", Type: "size: bytes (65536), or with KB or MB (64KB); 1KB..1MB",
		Meaning: "largest request line and headers; more is answered 431"},
		def:     "64KB",
		binding: byteSizeValue(func(c *Config) *int { return &c.Server.MaxHeaderBytes }, minHeaderBytes, maxHeaderBytes)},
	{KeyDoc: KeyDoc{Env: "SERVER_MAX_CONNECTIONS", YAML: "server.max-connections", Type: "integer >= 1",
		Default: "4096, or half the open-file limit (ulimit -n) if that is less",
		Meaning: "most connections open at once on the API port; further ones wait in the kernel's accept queue until one closes, leaving file descriptors for Redis and the token service. 0 means the default. A value that leaves fewer than 256 of the open-file limit for the rest is logged as a start-up warning (not refused: the limit can be raised)"},
		binding: intValue(func(c *Config) *int { return &c.Server.MaxConnections }, intAtLeast(0))},
	{KeyDoc: KeyDoc{Env: "MANAGEMENT_PORT", YAML: "management.server.port", Type: "integer 0..65535",
		Default: "(none): off",
		Meaning: "port of a second listener, on MANAGEMENT_ADDRESS, serving /livez, /readyz, /metrics and /api/v1/jwt/health with limits of its own, for probes that must work while the API port is flooded; 0 picks a free port. They stay on SERVER_PORT too"},
		binding: optionalPortValue(func(c *Config) *int { return &c.Server.ManagementPort }, func(c *Config) *bool { return &c.Server.ManagementEnabled })},
	{KeyDoc: KeyDoc{Env: "MANAGEMENT_ADDRESS", YAML: "management.server.address", Type: "host name or IP address", Default: "SERVER_ADDRESS",
		Meaning: "the management listener's address, when it should not be SERVER_ADDRESS (127.0.0.1 keeps it to the host; Kubernetes probes need an address they reach, such as the pod's); needs MANAGEMENT_PORT"},
		binding: hostValue(func(c *Config) *string { return &c.Server.ManagementAddress })},
	{KeyDoc: KeyDoc{Env: "MANAGEMENT_MAX_CONNECTIONS", YAML: "management.server.max-connections", Type: "integer >= 1",
		Default: "256",
		Meaning: "most connections open at once on the management port; when it is reached, each new connection closes the one that has waited longest without a request in progress (a stalled or idle client), so that held connections cannot keep probes out. 0 means the default; needs MANAGEMENT_PORT"},
		binding: intValue(func(c *Config) *int { return &c.Server.ManagementMaxConnections }, intAtLeast(0))},
	{KeyDoc: KeyDoc{Env: "LOG_LEVEL", YAML: "logging.level", Type: "debug, info, warn or error (any case)",
		Meaning: "least severe level logged"},
		def:     "info",
		binding: enumValue(func(c *Config) *LogLevel { return &c.Log.Level }, "debug", "info", "warn", "error")},
	{KeyDoc: KeyDoc{Env: "LOG_FORMAT", YAML: "logging.format", Type: "text or json",
		Meaning: "log line format"},
		def:     string(LogText),
		binding: enumValue(func(c *Config) *LogFormat { return &c.Log.Format }, LogText, LogJSON)},
}

// byEnv and byKey index table by environment variable and by canonical
// YAML key.
var (
	byEnv = map[string]*entry{}
	byKey = map[string]*entry{}
)

func init() {
	for i := range table {
		e := &table[i]
		if e.Default == "" {
			e.Default = e.def
		}
		byEnv[e.Env] = e
		byKey[canonicalKey(e.YAML)] = e
	}
}

// canonicalKey applies a little of Spring's relaxed binding, so that
// maxActive, max_active and max-active name the same key.
func canonicalKey(k string) string {
	return strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(k))
}

// Keys documents every configuration key, in the order of the README table.
func Keys() []KeyDoc {
	out := make([]KeyDoc, len(table))
	for i, e := range table {
		out[i] = e.KeyDoc
	}
	return out
}

// YAMLOnlyKeys documents the keys that have no environment variable (Env
// is empty): the per-service clients under jwt.services.
func YAMLOnlyKeys() []KeyDoc {
	return []KeyDoc{{
		YAML:    servicesKey + ".<name>.<setting>",
		Type:    "YAML mapping; settings url, issuer-url, client-id, client-secret, client-secret-file, auth-method, private-key-file, key-id, signing-alg, client-cert-file, client-cert-key-file, scope, audience, grant-type, timeout",
		Default: "(none)",
		Meaning: "a client for one service name, each setting overriding its JWT_* counterpart; a service with its own url, issuer-url or client-id needs its own client-secret, client-secret-file, private-key-file or client-cert-file. ${NAME} placeholders read secrets from the environment",
	}}
}

// MarkdownTable renders Keys, then YAMLOnlyKeys, as the Markdown table of
// README.md.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| Environment variable | YAML key | Format | Default | Meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	for _, k := range slices.Concat(Keys(), YAMLOnlyKeys()) {
		env := "(YAML only)"
		if k.Env != "" {
			env = "`" + k.Env + "`"
		}
		b.WriteString("| " + env + " | `" + k.YAML + "` | " + cell(k.Type) + " | " + cell(k.Default) + " | " + cell(k.Meaning) + " |\n")
	}
	return b.String()
}

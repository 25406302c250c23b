package config

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// writeYAML writes a YAML file into a fresh temporary directory.
func writeYAML(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "application.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// guideEnv is the guide's environment block as an Environ slice.
func guideEnv(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("testdata/guide.env")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := []string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			env = append(env, line)
		}
	}
	return env
}

func mustLoad(t *testing.T, opts LoadOptions) Config {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	c, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got := mustLoad(t, LoadOptions{})
	want := Config{
		TokenService: TokenServiceConfig{AuthMethod: AuthClientSecretBasic, GrantType: "client_credentials", Timeout: 10 * time.Second,
			NegativeCache: 30 * time.Second, IssuerRefresh: time.Hour, MinTokenLifetime: 10 * time.Second, HealthCheckInterval: 30 * time.Second},
		Cache: CacheConfig{Type: CacheMemory, RenewalBuffer: 20 * time.Second, RenewalCheckInterval: 30 * time.Second,
			RenewalIdleTimeout: time.Hour, CleanupInterval: time.Minute, LockTTL: 30 * time.Second, TTL: 30 * time.Minute},
		Limits: LimitsConfig{MaxServices: 10000, TokenRate: 20, TokenBurst: 500, RefreshMinInterval: 5 * time.Second},
		Redis: RedisConfig{Port: 6379, Timeout: 2 * time.Second, PoolMaxActive: 8, PoolMaxIdle: 8,
			PoolMaxWait: -time.Millisecond, KeyPrefix: "jwtcache"},
		Server: ServerConfig{Port: 8080, ReadTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10},
		Log:    LogConfig{Level: "info", Format: LogText},
	}
	assertConfig(t, got, want)
	assertConfig(t, Default(), want)
	if err := Default().Validate(); err != nil {
		t.Errorf("Default().Validate() = %v", err)
	}
}

// assertConfig compares with %+v, which shows Secrets redacted; secrets are
// compared separately where it matters.
func assertConfig(t *testing.T, got, want Config) {
	t.Helper()
	if g, w := fmtConfig(got), fmtConfig(want); g != w {
		t.Errorf("config\n got %s\nwant %s", g, w)
	}
}

func fmtConfig(c Config) string {
	c.Origin = Origin{}
	return strings.ReplaceAll(strings.TrimPrefix(sprintf("%+v", c), "{"), " ", "\n  ")
}

// TestLoadGuideFormats loads the guide's environment block as it is.
func TestLoadGuideFormats(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{Environ: guideEnv(t)})
	ts, r := c.TokenService, c.Redis
	checks := []struct {
		name      string
		got, want any
	}{
		{"JWT_TOKEN_SERVICE_URL", ts.URL, "http://your-token-service.com/oauth/token"},
		{"JWT_CLIENT_ID", ts.ClientID, "your-client-id"},
		{"JWT_CLIENT_SECRET", ts.ClientSecret.Reveal(), "your-client-secret"},
		{"JWT_TOKEN_SCOPE", ts.Scope, "api.read api.write"},
		{"JWT_GRANT_TYPE", ts.GrantType, "client_credentials"},
		{"JWT_RENEWAL_BUFFER=20", c.Cache.RenewalBuffer, 20 * time.Second},
		{"REDIS_HOST", r.Host, "localhost"},
		{"REDIS_PORT", r.Port, 6379},
		{"REDIS_PASSWORD", r.Password.Reveal(), "your-redis-password"},
		{"REDIS_DATABASE", r.Database, 0},
		{"REDIS_TIMEOUT=2000ms", r.Timeout, 2 * time.Second},
		{"REDIS_POOL_MAX_ACTIVE", r.PoolMaxActive, 8},
		{"REDIS_POOL_MAX_IDLE", r.PoolMaxIdle, 8},
		{"REDIS_POOL_MIN_IDLE", r.PoolMinIdle, 0},
		{"REDIS_POOL_MAX_WAIT=-1ms", r.PoolMaxWait, -time.Millisecond},
		{"CACHE_TTL=1800000", c.Cache.TTL, 30 * time.Minute},
		{"CACHE_TYPE inferred", c.Cache.Type, CacheRedis},
		{"RedisAddrs", strings.Join(c.RedisAddrs(), ","), "localhost:6379"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestLoadGuideYAML(t *testing.T) {
	t.Parallel()
	const guideFile = "testdata/guide-application.yaml"
	t.Run("placeholders unset", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, LoadOptions{File: guideFile})
		want := Default()
		// The file's only literal: spring.cache.type: redis, which dials
		// localhost as Spring would.
		want.Cache.Type, want.Redis.Host = CacheRedis, "localhost"
		assertConfig(t, c, want)
		if c.Origin.File != guideFile || len(c.Origin.UnknownKeys) != 0 {
			t.Errorf("Origin = %+v, want the file and no unknown keys", c.Origin)
		}
	})
	t.Run("with the guide's environment", func(t *testing.T) {
		t.Parallel()
		env := guideEnv(t)
		fromEnv := mustLoad(t, LoadOptions{Environ: env})
		c := mustLoad(t, LoadOptions{File: guideFile, Environ: env})
		assertConfig(t, c, fromEnv)
	})
	t.Run("renewal tuning", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, LoadOptions{File: "testdata/guide-renewal-tuning.yaml"})
		if c.Cache.RenewalBuffer != 30*time.Second {
			t.Errorf("RenewalBuffer = %v, want 30s", c.Cache.RenewalBuffer)
		}
	})
	t.Run("redis tuning", func(t *testing.T) {
		t.Parallel()
		r := mustLoad(t, LoadOptions{File: "testdata/guide-redis-tuning.yaml"}).Redis
		if r.PoolMaxActive != 16 || r.PoolMaxIdle != 8 || r.PoolMinIdle != 2 || r.PoolMaxWait != 5*time.Second {
			t.Errorf("pool = %d/%d/%d/%v, want 16/8/2/5s", r.PoolMaxActive, r.PoolMaxIdle, r.PoolMinIdle, r.PoolMaxWait)
		}
	})
}

func TestLoadPrecedence(t *testing.T) {
	t.Parallel()
	const file = `
jwt:
  token:
    cache:
      renewal:
        buffer: 30
spring:
  data:
    redis:
      host: redis.file
      port: 6380
logging:
  level: debug
`
	type want struct {
		buffer time.Duration
		host   string
		port   int
		level  LogLevel
	}
	tests := []struct {
		name string
		file string
		env  []string
		want want
	}{
		{"defaults", "", nil, want{20 * time.Second, "", 6379, "info"}},
		{"file over defaults", file, nil, want{30 * time.Second, "redis.file", 6380, "debug"}},
		{"env over defaults", "", []string{"JWT_RENEWAL_BUFFER=40", "REDIS_HOST=redis.env", "LOG_LEVEL=ERROR"},
			want{40 * time.Second, "redis.env", 6379, "error"}},
		{"env over file", file, []string{"JWT_RENEWAL_BUFFER=40s", "REDIS_PORT=6390"},
			want{40 * time.Second, "redis.file", 6390, "debug"}},
		{"empty env is unset", file, []string{"REDIS_HOST=", "REDIS_PORT=  "},
			want{30 * time.Second, "redis.file", 6380, "debug"}},
		{"unrelated env ignored", "", []string{"PATH=/bin", "JWT_UNKNOWN=1", "NOEQUALS"},
			want{20 * time.Second, "", 6379, "info"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Environ: tt.env}
			if tt.file != "" {
				opts.File = writeYAML(t, tt.file)
			}
			c := mustLoad(t, opts)
			got := want{c.Cache.RenewalBuffer, c.Redis.Host, c.Redis.Port, c.Log.Level}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestLoadFileFromEnvironment(t *testing.T) {
	t.Parallel()
	a := writeYAML(t, "server:\n  port: 9001\n")
	b := writeYAML(t, "server:\n  port: 9002\n")
	if got := mustLoad(t, LoadOptions{Environ: []string{"JWT_CONFIG_FILE=" + a}}).Server.Port; got != 9001 {
		t.Errorf("JWT_CONFIG_FILE: port %d, want 9001", got)
	}
	if got := mustLoad(t, LoadOptions{File: b, Environ: []string{"JWT_CONFIG_FILE=" + a}}).Server.Port; got != 9002 {
		t.Errorf("File over JWT_CONFIG_FILE: port %d, want 9002", got)
	}
}

// TestLoadProcessEnvironment covers the nil Environ default; t.Setenv
// rules out t.Parallel here.
func TestLoadProcessEnvironment(t *testing.T) {
	t.Setenv("JWT_CONFIG_FILE", "")
	t.Setenv("SERVER_PORT", "9123")
	c, err := Load(LoadOptions{})
	if err != nil {
		t.Skipf("the process environment holds other jwtcache settings: %v", err)
	}
	if c.Server.Port != 9123 {
		t.Errorf("port %d, want 9123 from the process environment", c.Server.Port)
	}
}

func TestLoadYAMLForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		yaml  string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{"placeholder resolved from the environment under another name",
			"spring.data.redis.host: ${MY_REDIS}\n", []string{"MY_REDIS=cache.internal"},
			func(t *testing.T, c Config) { eq(t, c.Redis.Host, "cache.internal") }},
		{"placeholder default", "server:\n  port: ${NOPE:9090}\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Server.Port, 9090) }},
		{"placeholder empty default is unset", "server:\n  port: ${NOPE:}\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Server.Port, 8080) }},
		{"placeholder inside a string is literal", "jwt.token.scope: a ${X} b\n", []string{"X=1"},
			func(t *testing.T, c Config) { eq(t, c.TokenService.Scope, "a ${X} b") }},
		{"null and empty are unset", "server:\n  port:\n  address: ''\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Server.Addr(), ":8080") }},
		{"flat dotted keys", "spring.data.redis.lettuce.pool.max-idle: 4\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Redis.PoolMaxIdle, 4) }},
		{"relaxed binding", "spring:\n  data:\n    redis:\n      lettuce:\n        pool:\n          maxActive: 16\n          max_idle: 12\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Redis.PoolMaxActive, 16); eq(t, c.Redis.PoolMaxIdle, 12) }},
		{"cluster nodes as a YAML list",
			"spring:\n  data:\n    redis:\n      cluster:\n        nodes:\n          - a:7000\n          - b:7001\n", nil,
			func(t *testing.T, c Config) {
				eq(t, strings.Join(c.RedisAddrs(), ","), "a:7000,b:7001")
				eq(t, c.Redis.Mode(), RedisCluster)
				eq(t, c.Cache.Type, CacheRedis)
			}},
		{"booleans and quoted secrets", "spring:\n  data:\n    redis:\n      ssl:\n        enabled: true\n      password: '0123'\n", nil,
			func(t *testing.T, c Config) { eq(t, c.Redis.TLS, true); eq(t, c.Redis.Password.Reveal(), "0123") }},
		{"ISO and Spring durations", "spring.cache.redis.time-to-live: PT1H\njwt.token.cache.renewal.idle-timeout: 1d\n", nil,
			func(t *testing.T, c Config) {
				eq(t, c.Cache.TTL, time.Hour)
				eq(t, c.Cache.RenewalIdleTimeout, 24*time.Hour)
			}},
		{"unknown keys reported, guide's Spring keys not", `
spring:
  cache:
    redis:
      cache-null-values: false
      enable-statistics: true
  data:
    redis:
      hots: typo
jwt.token.client.idd: x
management.port: 1
`, nil,
			func(t *testing.T, c Config) {
				eq(t, strings.Join(c.Origin.UnknownKeys, ","), "jwt.token.client.idd,management.port,spring.data.redis.hots")
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, mustLoad(t, LoadOptions{File: writeYAML(t, tt.yaml), Environ: tt.env}))
		})
	}
}

func eq[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestLoadCacheTypeInference(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		env       []string
		wantType  CacheType
		wantAddrs string
		wantMode  RedisMode
	}{
		{"nothing set", nil, CacheMemory, "", RedisStandalone},
		{"REDIS_HOST", []string{"REDIS_HOST=h", "REDIS_PORT=7000"}, CacheRedis, "h:7000", RedisStandalone},
		{"REDIS_ADDRS one", []string{"REDIS_ADDRS=a:1"}, CacheRedis, "a:1", RedisStandalone},
		{"REDIS_ADDRS several", []string{"REDIS_ADDRS=a:1, b:2,"}, CacheRedis, "a:1,b:2", RedisCluster},
		{"REDIS_ADDRS over host", []string{"REDIS_HOST=h", "REDIS_ADDRS=a:1"}, CacheRedis, "a:1", RedisStandalone},
		{"sentinel", []string{"REDIS_ADDRS=s1:26379,s2:26379", "REDIS_MASTER_NAME=mymaster"}, CacheRedis, "s1:26379,s2:26379", RedisSentinel},
		{"explicit redis defaults to localhost", []string{"CACHE_TYPE=redis"}, CacheRedis, "localhost:6379", RedisStandalone},
		{"explicit redis, any case", []string{"CACHE_TYPE=Redis"}, CacheRedis, "localhost:6379", RedisStandalone},
		{"explicit memory beats a host", []string{"CACHE_TYPE=memory", "REDIS_HOST=h"}, CacheMemory, "h:6379", RedisStandalone},
		{"REDIS_PORT alone is not Redis", []string{"REDIS_PORT=7000"}, CacheMemory, "", RedisStandalone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustLoad(t, LoadOptions{Environ: tt.env})
			eq(t, c.Cache.Type, tt.wantType)
			eq(t, strings.Join(c.RedisAddrs(), ","), tt.wantAddrs)
			eq(t, c.Redis.Mode(), tt.wantMode)
		})
	}
}

// Secrets used by the error tests; none may appear in any message.
const (
	clientSecret  = "cl1ent-s3cret-VALUE"
	redisPassword = "r3dis-passw0rd-VALUE"
)

var baseEnv = []string{"JWT_CLIENT_ID=id", "JWT_CLIENT_SECRET=" + clientSecret, "REDIS_PASSWORD=" + redisPassword}

// neverBad lists the keys no value can be wrong for.
var neverBad = []string{"JWT_CLIENT_ID", "JWT_CLIENT_SECRET", "JWT_CLIENT_PRIVATE_KEY_FILE", "JWT_CLIENT_KEY_ID",
	"JWT_TOKEN_SERVICE_CA_FILE", // files are read by CheckFiles, tested in credentials_test.go
	"JWT_TOKEN_SCOPE", "JWT_TOKEN_AUDIENCE",
	"JWT_GRANT_TYPE", "REDIS_MASTER_NAME", "REDIS_USERNAME", "REDIS_PASSWORD"}

var badValues = []struct {
	env, value, want string
}{
	{"JWT_TOKEN_SERVICE_URL", "ftp://host/token", `"ftp://host/token" is not an http or https URL`},
	{"JWT_TOKEN_SERVICE_URL", "token.example.com/oauth", "is not an http or https URL"},
	{"JWT_TOKEN_SERVICE_URL", "https:///token", "has no host"},
	{"JWT_TOKEN_SERVICE_URL", "https://h/t#frag", "must not have a fragment"},
	// A query may hold a secret: the message shows scheme://host/path.
	{"JWT_TOKEN_SERVICE_URL", "https://h/t?code=" + clientSecret + "#frag", `"https://h/t" must not have a fragment`},
	{"JWT_TOKEN_SERVICE_URL", "ftp://h/t?code=" + clientSecret, `"ftp://h/t" is not an http or https URL`},
	{"JWT_TOKEN_SERVICE_URL", "https://user:" + clientSecret + "@h/t", "must not contain credentials"},
	{"JWT_TOKEN_SERVICE_URL", "https://h/%zz", "is not a valid URL"},
	{"JWT_CLIENT_AUTH_METHOD", "client_secret_jwt", `"client_secret_jwt" is not client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth`},
	{"JWT_CLIENT_SIGNING_ALG", "HS256", `"HS256" is not RS256 or ES256`},
	{"JWT_TOKEN_ISSUER_URL", "ftp://idp", `"ftp://idp" is not an http or https URL`},
	{"JWT_TOKEN_ISSUER_REFRESH", "0", "must be more than 0"},
	{"JWT_CLIENT_SECRET_FILE", "/run/secrets/client-secret", "is set together with JWT_CLIENT_SECRET (jwt.token.client.secret); set one of them"},
	{"JWT_CLIENT_CERT_FILE", "/tls/tls.crt", "is set without JWT_CLIENT_CERT_KEY_FILE (jwt.token.client.cert-key-file); set both or neither"},
	{"JWT_CLIENT_CERT_KEY_FILE", "/tls/tls.key", "is set without JWT_CLIENT_CERT_FILE (jwt.token.client.cert-file); set both or neither"},
	{"JWT_TOKEN_NEGATIVE_CACHE", "-1", "must not be negative, got -1s"},
	{"JWT_MIN_TOKEN_LIFETIME", "-1", "must not be negative, got -1s"},
	{"JWT_MIN_TOKEN_LIFETIME", "soon", `"soon" is not a duration`},
	{"JWT_HEALTH_CHECK_INTERVAL", "0", "0s must be at least 1s"},
	{"JWT_HEALTH_CHECK_INTERVAL", "-30", "must be at least 1s"},
	{"JWT_HEALTH_CHECK_INTERVAL", "999ms", "999ms must be at least 1s"},
	{"JWT_MAX_SERVICES", "-1", "-1 must be at least 0"},
	{"JWT_MAX_SERVICES", "many", `"many" is not an integer`},
	{"JWT_TOKEN_RATE", "-0.5", "-0.5 must be 0 (off) or at least 0.001"},
	{"JWT_TOKEN_RATE", "1e-300", "1e-300 must be 0 (off) or at least 0.001"},
	{"JWT_TOKEN_RATE", "0.000999", "0.000999 must be 0 (off) or at least 0.001"},
	{"JWT_TOKEN_RATE", "fast", `"fast" is not a number`},
	{"JWT_TOKEN_RATE", "NaN", `"NaN" is not a number`},
	{"JWT_TOKEN_BURST", "0", "0 must be at least 1"},
	{"JWT_REFRESH_MIN_INTERVAL", "-5", "must not be negative, got -5s"},
	{"JWT_STRICT_SERVICES", "true", "true, but jwt.services lists no service"},
	{"JWT_STRICT_SERVICES", "sure", `"sure" is not a boolean`},
	{"JWT_CACHE_ENCRYPTION_KEY", "c2hvcnQta2V5LTE2LWJ5dGVz", "decodes to 18 bytes; AES-256 needs exactly 32"},
	{"JWT_CACHE_ENCRYPTION_KEY", "not base64 at all!", "is not base64"},
	{"JWT_CACHE_ENCRYPTION_PREVIOUS_KEYS", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=,c2hvcnQ=", "entry 2: encryption key decodes to 5 bytes"},
	{"JWT_API_KEYS", apiKeyShort, "entry 1: the key is shorter than 16 characters"},
	{"JWT_API_KEYS", apiKeyLong + "," + apiKeyShort, "entry 2: the key is shorter than 16 characters"},
	{"JWT_API_KEYS", apiKeyLong + "@KYC", "entry 1: service 1 after '@' is not a valid service name"},
	{"JWT_API_KEYS", apiKeyLong + " x", "entry 1: the key may hold only visible ASCII"},
	{"JWT_API_KEYS", " , ", "holds no key"},
	{"JWT_API_KEYS_FILE", "/nonexistent/api-keys", `file "/nonexistent/api-keys": no such file or directory`},
	{"JWT_API_PROTECT_STATUS", "2", `"2" is not a boolean`},
	{"JWT_TOKEN_TIMEOUT", "abc", `"abc" is not a duration (want seconds like 20 or a Go duration like 20s)`},
	{"JWT_TOKEN_TIMEOUT", "0", "must be more than 0, got 0s"},
	{"JWT_RENEWAL_BUFFER", "abc", `"abc" is not a duration (want seconds like 20 or a Go duration like 20s)`},
	{"JWT_RENEWAL_BUFFER", "-5", "must not be negative, got -5s"},
	{"JWT_RENEWAL_BUFFER", "1.5", "is not a duration"},
	{"JWT_RENEWAL_CHECK_INTERVAL", "0s", "must be more than 0"},
	{"JWT_RENEWAL_IDLE_TIMEOUT", "-1s", "must not be negative"},
	{"JWT_CLEANUP_INTERVAL", "soon", `"soon" is not a duration`},
	{"JWT_LOCK_TTL", "5", "5s must be longer than JWT_TOKEN_TIMEOUT (jwt.token.timeout) 10s"},
	{"JWT_LOCK_TTL", "10s", "must be longer than JWT_TOKEN_TIMEOUT"},
	{"JWT_LOCK_TTL", "0", "must be more than 0"},
	{"CACHE_TYPE", "disk", `"disk" is not memory or redis`},
	{"CACHE_TTL", "0", "must be more than 0"},
	{"CACHE_TTL", "1800000x", `"1800000x" is not a duration (want milliseconds like 2000 or a duration like 2000ms or 2s)`},
	{"REDIS_HOST", "redis://h:6379", "is not a host name or IP address"},
	{"REDIS_HOST", "h:6379", `"h:6379" must not contain a port`},
	{"REDIS_HOST", "redis://:" + redisPassword + "@h", "not a URL with credentials"},
	{"REDIS_PORT", "0", "0 is out of range 1..65535"},
	{"REDIS_PORT", "70000", "70000 is out of range 1..65535"},
	{"REDIS_PORT", "abc", `"abc" is not an integer`},
	{"REDIS_ADDRS", "a:1,b", `entry 2 "b" is not host:port`},
	{"REDIS_ADDRS", "a:0", `entry 1 "a:0" has no port in 1..65535`},
	{"REDIS_ADDRS", "user:" + redisPassword + "@a:1", "entry 1 is a URL with credentials"},
	{"REDIS_DATABASE", "16", "16 is out of range 0..15"},
	{"REDIS_TLS", "maybe", `"maybe" is not a boolean`},
	{"REDIS_TLS_CA_FILE", "/etc/ssl/private-ca.pem", "is set, but REDIS_TLS (spring.data.redis.ssl.enabled) is false"},
	{"REDIS_TLS_CERT_FILE", "/etc/ssl/client.pem", "is set, but REDIS_TLS (spring.data.redis.ssl.enabled) is false"},
	{"REDIS_TLS_KEY_FILE", "/etc/ssl/client-key.pem", "is set, but REDIS_TLS (spring.data.redis.ssl.enabled) is false"},
	{"REDIS_TLS_SERVER_NAME", "redis.internal:6379", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", "redis_internal", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", "-redis.internal", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", "redis..internal", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", "*.redis.internal", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", "https://redis.internal", "is not a host name or IP address"},
	{"REDIS_TLS_SERVER_NAME", strings.Repeat("a", 64) + ".internal", "is not a host name or IP address"},
	{"REDIS_TIMEOUT", "0ms", "must be more than 0"},
	{"REDIS_TIMEOUT", "-1", "must be more than 0, got -1ms"},
	{"REDIS_POOL_MAX_ACTIVE", "0", "must be at least 1, or -1 for no limit"},
	{"REDIS_POOL_MAX_ACTIVE", "x", `"x" is not an integer`},
	{"REDIS_POOL_MAX_IDLE", "-1", "-1 must be at least 0"},
	{"REDIS_POOL_MIN_IDLE", "9", "9 is more than REDIS_POOL_MAX_IDLE (spring.data.redis.lettuce.pool.max-idle) 8"},
	{"REDIS_POOL_MIN_IDLE", "-1", "-1 must be at least 0"},
	{"REDIS_POOL_MAX_WAIT", "forever", `"forever" is not a duration`},
	{"REDIS_KEY_PREFIX", "has space", "must be 1 to 64 of"},
	{"REDIS_KEY_PREFIX", strings.Repeat("p", 65), "must be 1 to 64 of"},
	{"SERVER_PORT", "65536", "65536 is out of range 0..65535"},
	{"SERVER_ADDRESS", "0.0.0.0:80", "must not contain a port"},
	{"SERVER_READ_TIMEOUT", "0", "must be more than 0"},
	{"SERVER_READ_TIMEOUT", "soon", `"soon" is not a duration`},
	{"SERVER_WRITE_TIMEOUT", "-1s", "must not be negative"},
	{"SERVER_WRITE_TIMEOUT", "40s", "40s must be longer than JWT_LOCK_TTL (jwt.token.cache.lock-ttl) plus the longest token request timeout (40s together)"},
	{"SERVER_SHUTDOWN_TIMEOUT", "-1s", "must not be negative"},
	{"SERVER_SHUTDOWN_TIMEOUT", "5s", "5s must be longer than REDIS_TIMEOUT (spring.data.redis.timeout) + 5s (7s)"},
	{"SERVER_IDLE_TIMEOUT", "0s", "must be more than 0"},
	{"SERVER_MAX_HEADER_BYTES", "512", "512 bytes is out of range 1024..1048576"},
	{"SERVER_MAX_HEADER_BYTES", "2MB", "2097152 bytes is out of range 1024..1048576"},
	{"SERVER_MAX_HEADER_BYTES", "64 KiB", `"64 KiB" is not a size`},
	{"SERVER_MAX_HEADER_BYTES", "-1", `"-1" is not a size`},
	{"SERVER_MAX_CONNECTIONS", "-5", "-5 must be at least 0"},
	{"SERVER_MAX_CONNECTIONS", "many", `"many" is not an integer`},
	{"MANAGEMENT_PORT", "65536", "65536 is out of range 0..65535"},
	{"MANAGEMENT_PORT", "off", `"off" is not an integer`},
	{"MANAGEMENT_PORT", "8080", "8080 is SERVER_PORT (server.port) too"},
	{"MANAGEMENT_ADDRESS", "127.0.0.1", "has no effect without MANAGEMENT_PORT"},
	{"MANAGEMENT_MAX_CONNECTIONS", "100", "has no effect without MANAGEMENT_PORT"},
	{"LOG_LEVEL", "trace", `"trace" is not debug, info, warn or error`},
	{"LOG_FORMAT", "xml", `"xml" is not text or json`},
}

// API keys used by the tests; none may appear in any message.
const (
	apiKeyLong  = "api-KEY-0123456789-long-enough"
	apiKeyShort = "api-KEY-short"
)

// TestLoadBadValues sets each bad value through the environment and through
// the YAML file: each must give exactly one error, naming the variable and
// the YAML key, saying what is wrong, and repeating no secret.
func TestLoadBadValues(t *testing.T) {
	t.Parallel()
	for _, tt := range badValues {
		yamlKey := byEnv[tt.env].YAML
		wantPrefix := "config: " + tt.env + " (" + yamlKey + "): "
		for _, via := range []string{"env", "yaml"} {
			t.Run(via+"/"+tt.env+"="+tt.value, func(t *testing.T) {
				t.Parallel()
				opts := LoadOptions{Environ: slices.Clone(baseEnv)}
				if via == "env" {
					opts.Environ = append(opts.Environ, tt.env+"="+tt.value)
				} else {
					opts.File = writeYAML(t, yamlKey+": "+strconv.Quote(tt.value)+"\n")
				}
				c, err := Load(opts)
				if err == nil {
					t.Fatalf("no error; config %+v", c)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, wantPrefix) || !strings.Contains(msg, tt.want) || strings.Count(msg, "config: ") != 1 {
					t.Errorf("error\n%s\nwant one line starting %q containing %q", msg, wantPrefix, tt.want)
				}
				assertNoSecret(t, msg)
				if fmtConfig(c) != fmtConfig(Config{}) {
					t.Errorf("Load returned a non-zero Config with its error")
				}
			})
		}
	}
}

func TestBadValuesCoverEveryKey(t *testing.T) {
	t.Parallel()
	covered := map[string]bool{}
	for _, b := range badValues {
		covered[b.env] = true
	}
	for _, k := range Keys() {
		if !covered[k.Env] && !slices.Contains(neverBad, k.Env) {
			t.Errorf("no bad-value case for %s", k.Env)
		}
	}
}

func TestLoadCollectsAllProblems(t *testing.T) {
	t.Parallel()
	env := append(slices.Clone(baseEnv), "JWT_RENEWAL_BUFFER=abc", "REDIS_PORT=0", "LOG_LEVEL=loud",
		"REDIS_POOL_MIN_IDLE=3", "REDIS_POOL_MAX_IDLE=2")
	_, err := Load(LoadOptions{Environ: env})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"JWT_RENEWAL_BUFFER", "REDIS_PORT", "LOG_LEVEL", "REDIS_POOL_MIN_IDLE"} {
		if !strings.Contains(err.Error(), "config: "+want+" (") {
			t.Errorf("error lacks %s:\n%v", want, err)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 4 {
		t.Errorf("%d problems, want 4:\n%v", n, err)
	}
}

func TestLoadSecretProblemsAreRedacted(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"unquoted number", "spring.data.redis.password: 987654321\n",
			"config: REDIS_PASSWORD (spring.data.redis.password): <redacted> must be quoted in YAML"},
		{"list", "jwt.token.client.secret: [" + clientSecret + "]\n",
			"config: JWT_CLIENT_SECRET (jwt.token.client.secret): <redacted> must be a single quoted string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeYAML(t, tt.yaml), Environ: []string{}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			assertNoSecret(t, err.Error())
			if strings.Contains(err.Error(), "987654321") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestLoadRequiresClientWithURL(t *testing.T) {
	t.Parallel()
	_, err := Load(LoadOptions{Environ: []string{"JWT_TOKEN_SERVICE_URL=https://idp/token"}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"config: JWT_CLIENT_ID (jwt.token.client.id): a client id is required when JWT_TOKEN_SERVICE_URL (jwt.token.service.url) is set",
		"config: JWT_CLIENT_SECRET (jwt.token.client.secret): a client secret is required when JWT_TOKEN_SERVICE_URL",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nope.yaml")
	tests := []struct{ name, path string }{
		{"missing", missing},
		{"directory", t.TempDir()},
		{"bad YAML", writeYAML(t, "jwt: [unclosed\n")},
		{"not a mapping", writeYAML(t, clientSecret+"\n")},
		{"tabs", writeYAML(t, "jwt:\n\ttoken: x\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: tt.path, Environ: []string{}})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "config: file "+strconv.Quote(tt.path)+": ") {
				t.Errorf("error %q does not name the file", err)
			}
			assertNoSecret(t, err.Error())
		})
	}
	_, err := Load(LoadOptions{Environ: []string{"JWT_CONFIG_FILE=" + missing}})
	if err == nil || !strings.Contains(err.Error(), missing) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("JWT_CONFIG_FILE naming a missing file: error %v, want fs.ErrNotExist naming the file", err)
	}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, secret := range []string{clientSecret, redisPassword, apiKeyLong, apiKeyShort, "0123456789-long"} {
		if strings.Contains(s, secret) {
			t.Errorf("secret %q leaked into:\n%s", secret, s)
		}
	}
}

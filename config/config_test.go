package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"
)

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

// loadedWithSecrets is a valid Config holding both secrets.
func loadedWithSecrets(t *testing.T) Config {
	t.Helper()
	return mustLoad(t, LoadOptions{Environ: append(append([]string{}, baseEnv...),
		"JWT_TOKEN_SERVICE_URL=https://idp.example/token", "REDIS_HOST=redis")})
}

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	c := loadedWithSecrets(t)
	if c.TokenService.ClientSecret.Reveal() != clientSecret || c.Redis.Password.Reveal() != redisPassword {
		t.Fatal("secrets not loaded")
	}
	outputs := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s"} {
		outputs["cfg "+verb] = fmt.Sprintf(verb, c)
		outputs["ptr "+verb] = fmt.Sprintf(verb, &c)
		outputs["secret "+verb] = fmt.Sprintf(verb, c.TokenService.ClientSecret)
	}
	outputs["Sprint"] = fmt.Sprint(c, c.Redis.Password)
	outputs["String"] = c.Redis.Password.String()
	outputs["GoString"] = c.Redis.Password.GoString()
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json"] = string(js)
	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"slog json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		slog.New(h(&buf)).Info("loaded", "config", c, "secret", c.TokenService.ClientSecret, "redis", c.Redis)
		outputs[name] = buf.String()
	}
	for name, out := range outputs {
		if strings.Contains(out, clientSecret) || strings.Contains(out, redisPassword) {
			t.Errorf("%s reveals a secret: %s", name, out)
		}
		if !strings.Contains(out, "redacted") {
			t.Errorf("%s does not show %s: %s", name, redacted, out)
		}
	}
	if got := fmt.Sprintf("%v|%q", Secret(""), Secret("")); got != "|" {
		t.Errorf("empty secret prints %q, want empty", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string // each a substring of one problem; nil for valid
	}{
		{"defaults", func(c *Config) {}, nil},
		{"URL without client", func(c *Config) { c.TokenService.URL = "https://idp/token" },
			[]string{"config: JWT_CLIENT_ID (jwt.token.client.id): a client id is required", "config: JWT_CLIENT_SECRET"}},
		{"URL without grant type", func(c *Config) {
			c.TokenService.URL, c.TokenService.ClientID, c.TokenService.ClientSecret = "https://idp/token", "id", "s"
			c.TokenService.GrantType = ""
		}, []string{"config: JWT_GRANT_TYPE (jwt.token.grant.type): a grant type is required"}},
		{"client without URL is fine (dev mode)", func(c *Config) { c.TokenService.ClientID = "id" }, nil},
		{"redis without address", func(c *Config) { c.Cache.Type = CacheRedis },
			[]string{"config: CACHE_TYPE (spring.cache.type): redis needs REDIS_HOST (spring.data.redis.host) or REDIS_ADDRS"}},
		{"unset cache type", func(c *Config) { c.Cache.Type = "" }, []string{`config: CACHE_TYPE (spring.cache.type): "" is not memory or redis`}},
		{"unset auth method", func(c *Config) { c.TokenService.AuthMethod = "" }, []string{"config: JWT_CLIENT_AUTH_METHOD"}},
		{"cluster database", func(c *Config) { c.Redis.Addrs = []string{"a:1", "b:2"}; c.Redis.Database = 3 },
			[]string{"config: REDIS_DATABASE (spring.data.redis.database): 3: a Redis Cluster"}},
		{"sentinel may use a database", func(c *Config) {
			c.Redis.Addrs, c.Redis.MasterName, c.Redis.Database = []string{"a:1", "b:2"}, "m", 3
		}, nil},
		{"lock TTL equal to token timeout", func(c *Config) { c.Cache.LockTTL = c.TokenService.Timeout },
			[]string{"config: JWT_LOCK_TTL (jwt.token.cache.lock-ttl): 10s must be longer than JWT_TOKEN_TIMEOUT"}},
		{"min idle over max idle", func(c *Config) { c.Redis.PoolMinIdle = 9 },
			[]string{"config: REDIS_POOL_MIN_IDLE (spring.data.redis.lettuce.pool.min-idle): 9 is more than REDIS_POOL_MAX_IDLE"}},
		{"zero durations", func(c *Config) {
			c.Cache.RenewalCheckInterval, c.Cache.CleanupInterval, c.Cache.TTL, c.Redis.Timeout = 0, 0, 0, 0
		},
			[]string{"JWT_RENEWAL_CHECK_INTERVAL", "JWT_CLEANUP_INTERVAL", "CACHE_TTL", "REDIS_TIMEOUT"}},
		{"no-limit pool", func(c *Config) { c.Redis.PoolMaxActive = -1 }, nil},
		{"idle timeout 0 renews forever", func(c *Config) { c.Cache.RenewalIdleTimeout = 0 }, nil},
		{"empty key prefix", func(c *Config) { c.Redis.KeyPrefix = "" }, []string{"config: REDIS_KEY_PREFIX"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		unit time.Duration
		want time.Duration
		ok   bool
	}{
		{"20", time.Second, 20 * time.Second, true},
		{"20", time.Millisecond, 20 * time.Millisecond, true},
		{"1800000", time.Millisecond, 30 * time.Minute, true},
		{" 2000ms ", time.Second, 2 * time.Second, true},
		{"-1ms", time.Millisecond, -time.Millisecond, true},
		{"-1", time.Millisecond, -time.Millisecond, true},
		{"1m30s", time.Second, 90 * time.Second, true},
		{"2S", time.Second, 2 * time.Second, true},
		{"2000MS", time.Second, 2 * time.Second, true},
		{"7d", time.Second, 7 * 24 * time.Hour, true},
		{"PT30M", time.Second, 30 * time.Minute, true},
		{"pt20s", time.Second, 20 * time.Second, true},
		{"P1DT2H", time.Second, 26 * time.Hour, true},
		{"PT0.5S", time.Second, 500 * time.Millisecond, true},
		{"-PT1S", time.Second, -time.Second, true},
		{"P", time.Second, 0, false},
		{"PT", time.Second, 0, false},
		{"", time.Second, 0, false},
		{"abc", time.Second, 0, false},
		{"1.5", time.Second, 0, false},
		{"20 s", time.Second, 0, false},
		{"9223372036854775807", time.Second, 0, false},
		{"999999999999d", time.Second, 0, false},
	}
	for _, tt := range tests {
		got, ok := parseDuration(tt.in, tt.unit)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseDuration(%q, %v) = %v, %v; want %v, %v", tt.in, tt.unit, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHelpers(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    ServerConfig
		want string
	}{
		{ServerConfig{Port: 8080}, ":8080"},
		{ServerConfig{Address: "127.0.0.1", Port: 0}, "127.0.0.1:0"},
		{ServerConfig{Address: "::1", Port: 80}, "[::1]:80"},
	} {
		eq(t, tt.s.Addr(), tt.want)
	}
	for level, want := range map[LogLevel]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo,
		"warn": slog.LevelWarn, "error": slog.LevelError, "": slog.LevelInfo} {
		eq(t, LogConfig{Level: level}.SlogLevel(), want)
	}
	eq(t, RedisConfig{PoolMaxActive: 8}.PoolSize(), 8)
	eq(t, RedisConfig{PoolMaxActive: -1}.PoolSize(), 10*runtime.GOMAXPROCS(0))
	if got := (Config{}).RedisAddrs(); got != nil {
		t.Errorf("RedisAddrs without Redis = %v, want nil", got)
	}
	c := Config{Redis: RedisConfig{Addrs: []string{"a:1"}}}
	c.RedisAddrs()[0] = "changed"
	eq(t, c.Redis.Addrs[0], "a:1")
	eq(t, Default().Cache.RenewalPolicy().Buffer, 20*time.Second)
	// CACHE_TTL is the longest cached life the renewal policy plans for.
	eq(t, Default().Cache.RenewalPolicy().MaxLife, 30*time.Minute)
	eq(t, TokenServiceConfig{}.Configured(), false)
}

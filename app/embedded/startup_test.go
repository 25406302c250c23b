package embedded

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/config"
)

func TestCheckStore(t *testing.T) {
	const password, aclPassword, wrong = "r1ght-PASSWORD-value", "acl-PASSWORD-value", "wr0ng-PASSWORD-value"
	srv := redistest.StartServerWith(t, func(ctx context.Context, addr string) bool {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer c.Close()
		err := c.Ping(ctx).Err()
		return err == nil || redis.IsAuthError(err)
	}, func(string) []string {
		return []string{"--requirepass", password,
			"--user", "narrow", "on", ">" + aclPassword, "~other:*", "&*", "+@all"}
	})
	closed := redistest.StartServer(t)
	closed.Stop()
	redisCfg := func(addr, user, pw string) config.Config {
		c := config.Default()
		c.Cache.Type = config.CacheRedis
		c.Redis.Addrs = []string{addr}
		c.Redis.Username, c.Redis.Password = user, config.Secret(pw)
		return c
	}
	tests := []struct {
		name     string
		cfg      config.Config
		wantEnv  string // a *config.FieldError naming it; "" means none
		wantText string
		fails    bool
	}{
		{name: "memory", cfg: config.Default()},
		{name: "right password", cfg: redisCfg(srv.Addr, "", password)},
		{name: "wrong password", cfg: redisCfg(srv.Addr, "", wrong), wantEnv: "REDIS_PASSWORD", wantText: "WRONGPASS"},
		{name: "no password", cfg: redisCfg(srv.Addr, "", ""), wantEnv: "REDIS_PASSWORD", wantText: "NOAUTH"},
		{name: "unknown user", cfg: redisCfg(srv.Addr, "nobody", aclPassword), wantEnv: "REDIS_PASSWORD", wantText: "REDIS_USERNAME"},
		{name: "user without rights", cfg: redisCfg(srv.Addr, "narrow", aclPassword), wantEnv: "REDIS_USERNAME", wantText: "NOPERM"},
		{name: "unreachable", cfg: redisCfg(closed.Addr, "", password), fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckStore(context.Background(), tt.cfg, slog.New(slog.DiscardHandler))
			var fe *config.FieldError
			switch {
			case tt.wantEnv != "":
				if !errors.As(err, &fe) || fe.Env != tt.wantEnv || !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("CheckStore = %v, want a configuration error naming %s and saying %s", err, tt.wantEnv, tt.wantText)
				}
			case tt.fails:
				if err == nil || errors.As(err, &fe) {
					t.Fatalf("CheckStore = %v, want an outage, not a configuration error", err)
				}
			default:
				if err != nil {
					t.Fatalf("CheckStore = %v", err)
				}
			}
			if err != nil {
				for _, s := range []string{password, aclPassword, wrong, "nobody", "narrow"} {
					if strings.Contains(err.Error(), s) {
						t.Errorf("error %q shows a value (%s)", err, s)
					}
				}
			}
		})
	}
}

// TestRedisTLSFromConfig: the REDIS_TLS_* files reach the store: a Redis
// that speaks only TLS with a private CA and requires a client certificate
// lets jwtcache in with them, and not without the client certificate.
func TestRedisTLSFromConfig(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files)
	cfg := config.Default()
	cfg.Cache.Type = config.CacheRedis
	cfg.Redis.Addrs = []string{srv.Addr}
	cfg.Redis.TLS = true
	cfg.Redis.TLSCAFile, cfg.Redis.TLSCertFile, cfg.Redis.TLSKeyFile = files.CAFile, files.ClientCertFile, files.ClientKey
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := CheckStore(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("CheckStore with the CA and the client certificate: %v", err)
	}
	cfg.Redis.TLSCertFile, cfg.Redis.TLSKeyFile = "", ""
	if err := CheckStore(context.Background(), cfg, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("CheckStore without the client certificate passed")
	}
}

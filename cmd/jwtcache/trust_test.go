package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
)

// TestStartupWarnings: a misspelt variable and a CACHE_TTL that is too
// short are logged at start-up, naming the variable (and the closest known
// one), never the value.
func TestStartupWarnings(t *testing.T) {
	const value = "v4lue-N3VER-shown"
	var stderr bytes.Buffer
	env := []string{"JWT_RENEWAL_BUFER=" + value, "CACHE_TTL=1800", "REDIS_PASWORD=" + value}
	// Without a token service the command stops after the warnings.
	if code := run(context.Background(), []string{"serve"}, env, &bytes.Buffer{}, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	out := stderr.String()
	for _, want := range []string{
		"level=WARN", "JWT_RENEWAL_BUFER", "did you mean JWT_RENEWAL_BUFFER?",
		"REDIS_PASWORD", "did you mean REDIS_PASSWORD?",
		"CACHE_TTL (spring.cache.redis.time-to-live) is less than a minute", "milliseconds", "1800000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, value) {
		t.Errorf("the log shows a value:\n%s", out)
	}
}

// TestRedisMisconfigurationStopsStartup: a wrong REDIS_PASSWORD or
// REDIS_USERNAME, or a user without the rights jwtcache needs (on its keys
// or on its change channel), stops the binary with exit code 2, naming the
// variable and never its value; a Redis that is merely unreachable still
// lets it start, degraded.
func TestRedisMisconfigurationStopsStartup(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const password, aclPassword, wrong = "r1ght-PASSWORD-value", "acl-PASSWORD-value", "wr0ng-PASSWORD-value"
	srv := redistest.StartServerWith(t, func(ctx context.Context, addr string) bool {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		defer c.Close()
		err := c.Ping(ctx).Err()
		return err == nil || redis.IsAuthError(err)
	}, func(string) []string {
		return []string{"--requirepass", password,
			"--user", "jwtcache", "on", ">" + aclPassword, "~jwtcache:*", "&*", "+@all",
			"--user", "narrow", "on", ">" + aclPassword, "~other:*", "&*", "+@all",
			// Redis 7's default for a new user: no channel, so no change feed.
			"--user", "nochannels", "on", ">" + aclPassword, "~jwtcache:*", "resetchannels", "+@all"}
	})
	ts := startTokenService(t, time.Hour)
	host, port, _ := net.SplitHostPort(srv.Addr)
	env := func(extra ...string) []string {
		return append([]string{
			"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + fleetClientID, "JWT_CLIENT_SECRET=" + fleetSecret,
			"REDIS_HOST=" + host, "REDIS_PORT=" + port,
		}, extra...)
	}
	for _, tt := range []struct {
		name string
		env  []string
		want string
	}{
		{"wrong password", env("REDIS_PASSWORD=" + wrong), "REDIS_PASSWORD (spring.data.redis.password)"},
		{"no password", env(), "REDIS_PASSWORD (spring.data.redis.password): is not set, and Redis requires one"},
		{"wrong user", env("REDIS_USERNAME=nobody", "REDIS_PASSWORD="+aclPassword), "REDIS_USERNAME"},
		{"user without rights", env("REDIS_USERNAME=narrow", "REDIS_PASSWORD="+aclPassword), "REDIS_USERNAME (spring.data.redis.username)"},
		{"user without the change channel", env("REDIS_USERNAME=nochannels", "REDIS_PASSWORD="+aclPassword), "REDIS_USERNAME (spring.data.redis.username)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := start(t, tt.env, "serve")
			if code := p.exitCode(); code != exitConfig {
				t.Fatalf("exit code %d, want 2:\n%s", code, p.output())
			}
			if !strings.Contains(p.output(), tt.want) {
				t.Fatalf("the output does not name %q:\n%s", tt.want, p.output())
			}
			mustContainNone(t, "the output", p.output(), password, aclPassword, wrong, fleetSecret)
		})
	}

	t.Run("right user starts", func(t *testing.T) {
		p, _ := serve(t, env("REDIS_USERNAME=jwtcache", "REDIS_PASSWORD="+aclPassword))
		p.stop()
	})
	t.Run("unreachable starts degraded", func(t *testing.T) {
		down := redistest.StartServer(t)
		down.Stop()
		dh, dp, _ := net.SplitHostPort(down.Addr)
		p, base := serve(t, env("REDIS_HOST="+dh, "REDIS_PORT="+dp, "REDIS_TIMEOUT=300ms"))
		defer p.stop()
		code, body := call(t, http.MethodGet, base+"/api/v1/jwt/health")
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Fatalf("health answered %d", code)
		}
		if s, _ := body["status"].(string); s == "UP" {
			t.Errorf("health = %v with Redis down, want DEGRADED or DOWN", body)
		}
		if !strings.Contains(p.output(), "unreachable at start-up") {
			t.Errorf("no warning that Redis is unreachable:\n%s", p.output())
		}
	})
}

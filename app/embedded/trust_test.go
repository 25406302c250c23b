package embedded_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
)

// TestRedisRefusingWritesCostsNoExtraCalls: a Redis that takes no writes
// (full with noeviction, or a replica demoted to read-only) leaves each
// token served from the replica that fetched it for as long as it is
// valid: 1,000 requests over 10 names make 10 token-service calls. The
// refusals show in health (store DEGRADED with the reason) and in the
// counters /metrics reads.
func TestRedisRefusingWritesCostsNoExtraCalls(t *testing.T) {
	for _, tc := range []struct {
		name   string
		sicken func(ctx context.Context, c *redis.Client) error
		reason string
	}{
		{"full", func(ctx context.Context, c *redis.Client) error {
			if err := c.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
				return err
			}
			return c.ConfigSet(ctx, "maxmemory", "1").Err()
		}, "OOM"},
		{"read-only", func(ctx context.Context, c *redis.Client) error {
			// A replica of a master that is not there: read-only, as
			// after a failover that demoted it.
			return c.Do(ctx, "REPLICAOF", "127.0.0.1", "1").Err()
		}, "READONLY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs := redistest.StartServer(t)
			raw := redis.NewClient(&redis.Options{Addr: rs.Addr})
			defer raw.Close()
			if err := tc.sicken(t.Context(), raw); err != nil {
				t.Fatal(err)
			}
			cfg := load(t, "CACHE_TYPE=redis", "REDIS_ADDRS="+rs.Addr, "REDIS_KEY_PREFIX="+redistest.Prefix())
			issuer := &countingIssuer{}
			c, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()

			names := []string{"s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"}
			var wg sync.WaitGroup
			errs := make(chan error, 1000)
			for i := range 1000 {
				wg.Go(func() {
					if _, err := c.Token(t.Context(), names[i%len(names)]); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n := issuer.calls.Load(); n != int64(len(names)) {
				t.Fatalf("1,000 requests over %d names made %d token-service calls, want %d", len(names), n, len(names))
			}
			// The writes after a refused lock run in the background.
			redistest.WaitFor(t, 5*time.Second, "a refused write per name", func(context.Context) bool {
				return c.Counters().StoreWriteFailures >= uint64(len(names))
			})
			h := c.Health(t.Context())
			if h.Store.Status != app.StatusDegraded || !strings.Contains(h.Store.Detail, tc.reason) || h.Status != app.StatusDegraded {
				t.Fatalf("Health = %+v; want the store DEGRADED with %s", h, tc.reason)
			}
		})
	}
}

// TestHungRedis: with the Redis process stopped (SIGSTOP: connections
// open, no answer), an uncached name is answered within about
// REDIS_TIMEOUT plus the token-service call, a cached name at once, and
// /status and /statistics answer partial within REDIS_TIMEOUT. Real time:
// a bound on a limit, not a speed benchmark, hence the generous margins.
func TestHungRedis(t *testing.T) {
	const timeout = 500 * time.Millisecond
	rs := redistest.StartServer(t)
	cfg := load(t, "CACHE_TYPE=redis", "REDIS_ADDRS="+rs.Addr, "REDIS_KEY_PREFIX="+redistest.Prefix(), "REDIS_TIMEOUT=500ms")
	issuer := &countingIssuer{}
	c, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Token(t.Context(), "cached"); err != nil {
		t.Fatal(err)
	}
	rs.Pause()
	defer rs.Resume() // before Close and the server's Stop, deferred earlier

	timed := func(what string, limit time.Duration, f func() error) {
		t.Helper()
		start := time.Now()
		err := f()
		if d := time.Since(start); err != nil || d > limit {
			t.Errorf("%s with Redis hung: %v after %v; want an answer within %v", what, err, d, limit)
		}
	}
	timed("a cached name", timeout/5, func() error { _, err := c.Token(t.Context(), "cached"); return err })
	timed("an uncached name", 3*timeout, func() error { _, err := c.Token(t.Context(), "uncached"); return err })
	timed("the same name again", timeout/5, func() error { _, err := c.Token(t.Context(), "uncached"); return err })
	timed("another uncached name", 3*timeout, func() error { _, err := c.Token(t.Context(), "other"); return err })
	timed("status", 3*timeout, func() error {
		st, err := c.Status(t.Context(), "cached")
		if err == nil && (!st.Partial() || !st.Exists) {
			t.Errorf("Status = %+v; want the near cache's token, partial", st)
		}
		return err
	})
	timed("statistics", 3*timeout, func() error {
		st, err := c.Statistics(t.Context())
		if err == nil && (!st.Partial() || st.TotalTokens != 3) {
			t.Errorf("Statistics = %+v; want 3 tokens from the near cache, partial", st)
		}
		return err
	})
	timed("health", 3*timeout, func() error {
		if h := c.Health(t.Context()); h.Store.Status != app.StatusDown || h.Status != app.StatusDegraded {
			t.Errorf("Health = %+v; want the store DOWN, overall DEGRADED", h)
		}
		return nil
	})
	if n := issuer.calls.Load(); n != 3 {
		t.Errorf("token service called %d times for 3 names, want 3", n)
	}
}

// TestReplayedSealedValueIsNotServed: after a refresh, the old sealed
// value written back into Redis with a raw client (someone with write
// access undoing the refresh of a leaked token) is served neither by the
// replica that refreshed nor by a fresh one.
func TestReplayedSealedValueIsNotServed(t *testing.T) {
	addr := redistest.RequireShared(t)
	prefix := redistest.Prefix()
	const key = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	cfg := load(t, "CACHE_TYPE=redis", "REDIS_ADDRS="+addr, "REDIS_KEY_PREFIX="+prefix, "JWT_CACHE_ENCRYPTION_KEY="+key)
	issuer := &countingIssuer{}
	a, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	leaked, err := a.Token(t.Context(), "kyc")
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	tokenKey := prefix + ":jwt:{kyc}:token"
	old, err := rc.Get(t.Context(), tokenKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Millisecond) // a later issue time than the leaked token's, on any clock
	refreshed, err := a.Refresh(t.Context(), "kyc")
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Set(t.Context(), tokenKey, old, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rc.Del(context.Background(), tokenKey, prefix+":jwt:{kyc}:floor", prefix+":jwt:index") })

	b, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for name, c := range map[string]*app.Cache{"the refreshing replica": a, "a fresh replica": b} {
		got, err := c.Token(t.Context(), "kyc")
		if err != nil || got.AccessToken == leaked.AccessToken {
			t.Errorf("%s serves %q, %v after the old value was written back; the refreshed token is %q", name, got.AccessToken, err, refreshed.AccessToken)
		}
	}
}

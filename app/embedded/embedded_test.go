package embedded_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/redis/go-redis/v9"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type countingIssuer struct{ calls atomic.Int64 }

func (c *countingIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	n := c.calls.Add(1)
	now := time.Now()
	return domain.Token{AccessToken: service + "-" + strconv.FormatInt(n, 10), TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

func load(t *testing.T, env ...string) config.Config {
	t.Helper()
	cfg, err := config.Load(config.LoadOptions{Environ: append([]string{
		"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/oauth/token", "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s",
	}, env...)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Two caches embedded in two services, sharing Redis, make one token-service
// call between them for concurrent cold starts: the server's guarantees.
func TestEmbeddedCachesShareRedis(t *testing.T) {
	addr := redistest.RequireShared(t)
	cfg := load(t, "CACHE_TYPE=redis", "REDIS_ADDRS="+addr, "REDIS_KEY_PREFIX="+redistest.Prefix())
	issuer := &countingIssuer{}
	var caches []*app.Cache
	for range 2 {
		c, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		caches = append(caches, c)
	}
	var wg sync.WaitGroup
	got := make(chan string, 100)
	for i := range 100 {
		wg.Go(func() {
			tok, err := caches[i%2].Token(t.Context(), "kyc")
			if err != nil {
				t.Error(err)
				return
			}
			got <- tok.AccessToken
		})
	}
	wg.Wait()
	close(got)
	first := <-got
	for tok := range got {
		if tok != first {
			t.Fatalf("caches handed out %q and %q", first, tok)
		}
	}
	if n := issuer.calls.Load(); n != 1 {
		t.Fatalf("%d token-service calls for two embedded caches, want 1", n)
	}
	for _, c := range caches {
		if _, err := c.Evict(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNewRefusesIncompleteConfiguration(t *testing.T) {
	cfg := config.Default()
	_, err := embedded.New(cfg, embedded.Options{Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "JWT_TOKEN_SERVICE_URL") {
		t.Fatalf("New without a token service = %v; want an error naming JWT_TOKEN_SERVICE_URL", err)
	}
	cfg = load(t)
	cfg.Cache.LockTTL = time.Second // shorter than the token timeout
	if _, err := embedded.New(cfg, embedded.Options{Logger: quiet}); err == nil {
		t.Fatal("New accepted a configuration Validate rejects")
	}
}

func TestNewWithTheDefaultIssuerReportsTheTokenServiceError(t *testing.T) {
	c, err := embedded.New(load(t, "JWT_TOKEN_TIMEOUT=1"), embedded.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Token(t.Context(), "kyc")
	var tse *domain.TokenServiceError
	if !errors.As(err, &tse) || tse.Kind != domain.Unreachable {
		t.Fatalf("Token with nothing at the token URL = %v; want Unreachable", err)
	}
}

// With JWT_CACHE_ENCRYPTION_KEY, what the cache writes to Redis shows no
// token, and a cache with the key reads what another wrote.
func TestEncryptedRedisValues(t *testing.T) {
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
	tok, err := a.Token(t.Context(), "kyc")
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	raw, err := rc.Get(t.Context(), prefix+":jwt:{kyc}:token").Result()
	if err != nil || strings.Contains(raw, tok.AccessToken) || !strings.Contains(raw, `"v":2`) {
		t.Fatalf("the stored value is not sealed (%v): %q", err, raw)
	}
	b, err := embedded.New(cfg, embedded.Options{Issuer: issuer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got, _ := b.Token(t.Context(), "kyc"); got.AccessToken != tok.AccessToken || issuer.calls.Load() != 1 {
		t.Fatalf("a second cache with the key read %q after %d calls", got.AccessToken, issuer.calls.Load())
	}
	_, _ = a.Evict(t.Context(), "kyc")
}

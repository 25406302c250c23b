package embedded

import (
	"errors"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// TestIssuerOptionsMinTokenLifetime: JWT_MIN_TOKEN_LIFETIME reaches the
// issuer, its 0 ("refuse only expired tokens") as the adapter's "off".
func TestIssuerOptionsMinTokenLifetime(t *testing.T) {
	for _, tt := range []struct {
		cfg  time.Duration
		want time.Duration
	}{
		{10 * time.Second, 10 * time.Second},
		{3 * time.Second, 3 * time.Second},
		{0, -1},
	} {
		cfg := config.Default()
		cfg.TokenService.URL, cfg.TokenService.ClientID, cfg.TokenService.ClientSecret = "https://auth.example.com/token", "c", "s"
		cfg.TokenService.MinTokenLifetime = tt.cfg
		o := issuerOptions(cfg, nil)
		if o.MinTokenLifetime != tt.want {
			t.Errorf("JWT_MIN_TOKEN_LIFETIME %v: issuer MinTokenLifetime %v, want %v", tt.cfg, o.MinTokenLifetime, tt.want)
		}
		if _, err := tokenservice.New(o); err != nil {
			t.Errorf("tokenservice.New: %v", err)
		}
	}
}

// TestMemoryStoreHonoursCacheTTL: CACHE_TTL bounds how long the memory
// store keeps a token, as it bounds a Redis key: a token claiming
// expires_in 9e9 is gone within CACHE_TTL.
func TestMemoryStoreHonoursCacheTTL(t *testing.T) {
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := clocktest.NewFakeClock(start)
	cfg := config.Default()
	cfg.Cache.Type = config.CacheMemory
	cfg.Cache.TTL = 5 * time.Minute
	st, err := newStore(cfg, Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	tok := domain.Token{AccessToken: "t", IssuedAt: start, ExpiresAt: start.Add(9e9 * time.Second)}
	if err := st.Put(t.Context(), "kyc", tok); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5*time.Minute - time.Nanosecond)
	if _, err := st.Get(t.Context(), "kyc"); err != nil {
		t.Fatalf("within CACHE_TTL: %v", err)
	}
	clock.Advance(time.Nanosecond)
	if _, err := st.Get(t.Context(), "kyc"); !errors.Is(err, domain.ErrNotFound) {
		t.Fatalf("at CACHE_TTL: %v, want not found", err)
	}
}

package embedded

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/config"
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
		o := issuerOptions(cfg, nil, nil)
		if o.MinTokenLifetime != tt.want {
			t.Errorf("JWT_MIN_TOKEN_LIFETIME %v: issuer MinTokenLifetime %v, want %v", tt.cfg, o.MinTokenLifetime, tt.want)
		}
		if _, err := tokenservice.New(o); err != nil {
			t.Errorf("tokenservice.New: %v", err)
		}
	}
}

package embedded

import (
	"testing"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
)

// config may not import the adapters, so it spells the token service's
// vocabulary and the defaults of the adapters and the core itself. This
// composition root, which maps one onto the other, holds them equal: a
// value changed on one side only fails here.
func TestConfigSpeaksTheAdaptersVocabulary(t *testing.T) {
	for cfg, adapter := range map[string]string{
		string(config.AuthClientSecretBasic): tokenservice.AuthClientSecretBasic,
		string(config.AuthClientSecretPost):  tokenservice.AuthClientSecretPost,
		string(config.AuthPrivateKeyJWT):     tokenservice.AuthPrivateKeyJWT,
		string(config.SigningRS256):          tokenservice.SigningRS256,
		string(config.SigningES256):          tokenservice.SigningES256,
	} {
		if cfg != adapter {
			t.Errorf("config says %q, tokenservice %q", cfg, adapter)
		}
	}

	d := config.Default()
	for name, c := range map[string]struct{ cfg, want any }{
		"JWT_GRANT_TYPE":             {d.TokenService.GrantType, tokenservice.DefaultGrantType},
		"JWT_TOKEN_TIMEOUT":          {d.TokenService.Timeout, tokenservice.DefaultTimeout},
		"JWT_TOKEN_NEGATIVE_CACHE":   {d.TokenService.NegativeCache, tokenservice.DefaultNegativeCache},
		"JWT_RENEWAL_BUFFER":         {d.Cache.RenewalBuffer, domain.DefaultRenewalBuffer},
		"JWT_RENEWAL_CHECK_INTERVAL": {d.Cache.RenewalCheckInterval, app.DefaultCheckInterval},
		"JWT_RENEWAL_IDLE_TIMEOUT":   {d.Cache.RenewalIdleTimeout, app.DefaultIdleTimeout},
		"JWT_CLEANUP_INTERVAL":       {d.Cache.CleanupInterval, app.DefaultCleanupInterval},
		"JWT_LOCK_TTL":               {d.Cache.LockTTL, app.DefaultLockTTL},
	} {
		if c.cfg != c.want {
			t.Errorf("%s defaults to %v in config, %v in the adapter or core", name, c.cfg, c.want)
		}
	}
}

// The configuration's 0 turns the negative cache off where the adapter's 0
// means its default; the mapping, here only, turns one into the other.
func TestZeroMeansOffThroughTheMapping(t *testing.T) {
	cfg := config.Default()
	cfg.TokenService.URL, cfg.TokenService.ClientID = "http://127.0.0.1:1/oauth/token", "c"
	cfg.TokenService.NegativeCache = 0
	if got := issuerOptions(cfg, nil).NegativeCache; got >= 0 {
		t.Errorf("JWT_TOKEN_NEGATIVE_CACHE=0 maps to NegativeCache %v; want negative (off)", got)
	}
	cfg = config.Default()
	if got := issuerOptions(cfg, nil).NegativeCache; got != cfg.TokenService.NegativeCache {
		t.Errorf("NegativeCache %v, configured %v", got, cfg.TokenService.NegativeCache)
	}
}

package embedded

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/redisstore"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
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
		"JWT_MIN_TOKEN_LIFETIME":     {d.TokenService.MinTokenLifetime, tokenservice.DefaultMinTokenLifetime},
		"CACHE_TTL (memory)":         {d.Cache.TTL, memory.DefaultMaxTTL},
		"CACHE_TTL (redis)":          {d.Cache.TTL, redisstore.DefaultMaxTTL},
		"JWT_RENEWAL_BUFFER":         {d.Cache.RenewalBuffer, domain.DefaultRenewalBuffer},
		"JWT_RENEWAL_CHECK_INTERVAL": {d.Cache.RenewalCheckInterval, app.DefaultCheckInterval},
		"JWT_RENEWAL_IDLE_TIMEOUT":   {d.Cache.RenewalIdleTimeout, app.DefaultIdleTimeout},
		"JWT_CLEANUP_INTERVAL":       {d.Cache.CleanupInterval, app.DefaultCleanupInterval},
		"JWT_LOCK_TTL":               {d.Cache.LockTTL, app.DefaultLockTTL},
		"JWT_MAX_SERVICES":           {d.Limits.MaxServices, app.DefaultMaxServices},
		"JWT_TOKEN_RATE":             {d.Limits.TokenRate, app.DefaultTokenRate},
		"JWT_TOKEN_BURST":            {d.Limits.TokenBurst, app.DefaultTokenBurst},
		"JWT_REFRESH_MIN_INTERVAL":   {d.Limits.RefreshMinInterval, app.DefaultRefreshMinInterval},
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

// The limits' 0 is off in the configuration and the default in the core;
// the issuer built from the configuration tells clients apart.
func TestLimitsReachTheCore(t *testing.T) {
	cfg := config.Default()
	cfg.TokenService.URL, cfg.TokenService.ClientID = "http://127.0.0.1:1/oauth/token", "c"
	iss, err := newIssuer(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	o := coreOptions(cfg, iss, builtStore{}, Options{Instrument: wrapping{}})
	if o.MaxServices != 10000 || o.TokenRate != 20 || o.TokenBurst != 500 || o.RefreshMinInterval != 5*time.Second {
		t.Errorf("defaults reach the core as %d, %v, %d, %v", o.MaxServices, o.TokenRate, o.TokenBurst, o.RefreshMinInterval)
	}
	if o.ClientKeys == nil {
		t.Error("the issuer's client keys did not reach the core through the instrumentation")
	}
	cfg.Limits = config.LimitsConfig{TokenBurst: 1}
	o = coreOptions(cfg, iss, builtStore{}, Options{})
	if o.MaxServices >= 0 || o.TokenRate >= 0 || o.RefreshMinInterval >= 0 {
		t.Errorf("0 in the configuration maps to %d, %v, %v; want negative (off)", o.MaxServices, o.TokenRate, o.RefreshMinInterval)
	}
}

// wrapping instruments the issuer with a wrapper that hides its methods.
type wrapping struct{ Instrumentation }

func (wrapping) Issuer(i ports.TokenIssuer) ports.TokenIssuer { return struct{ ports.TokenIssuer }{i} }
func (wrapping) Store(s ports.TokenStore) ports.TokenStore    { return s }
func (wrapping) Locker(l ports.RenewalLocker) ports.RenewalLocker {
	return l
}
func (wrapping) Pinger(p ports.Pinger) ports.Pinger { return p }

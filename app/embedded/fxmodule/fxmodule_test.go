package fxmodule_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/app/embedded/fxmodule"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

func load(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(config.LoadOptions{Environ: []string{
		"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/oauth/token", "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s",
	}})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

type countingIssuer struct{ calls atomic.Int64 }

func (c *countingIssuer) Issue(context.Context, string) (domain.Token, error) {
	c.calls.Add(1)
	now := time.Now()
	return domain.Token{AccessToken: "tok", TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

func TestModuleValidates(t *testing.T) {
	if err := fx.ValidateApp(fx.NopLogger, fx.Supply(load(t)), fxmodule.Module, fx.Invoke(func(*app.Cache) {})); err != nil {
		t.Fatal(err)
	}
	// The configuration is required.
	if err := fx.ValidateApp(fx.NopLogger, fxmodule.Module, fx.Invoke(func(*app.Cache) {})); err == nil || !strings.Contains(err.Error(), "config.Config") {
		t.Fatalf("ValidateApp without a config.Config = %v; want an error naming it", err)
	}
}

// The cache lives as long as the application: closed once it stops.
func TestModuleClosesTheCacheOnStop(t *testing.T) {
	var cache *app.Cache
	fxApp := fxtest.New(t, fx.NopLogger, fx.Supply(load(t)), fxmodule.Module, fx.Populate(&cache))
	fxApp.RequireStart()
	if cache == nil {
		t.Fatal("the module provided no *app.Cache")
	}
	fxApp.RequireStop()
	if _, err := cache.Token(t.Context(), "kyc"); !errors.Is(err, domain.ErrClosed) {
		t.Fatalf("Token after the application stopped = %v; want ErrClosed", err)
	}
}

// An issuer and a store in the graph replace those the configuration
// describes: the cache asks that issuer and writes to that store.
func TestModuleUsesTheGraphsIssuerAndStore(t *testing.T) {
	issuer := &countingIssuer{}
	store := memory.New(nil)
	var cache *app.Cache
	fxApp := fxtest.New(t, fx.NopLogger, fx.Supply(load(t)),
		fx.Provide(func() ports.TokenIssuer { return issuer }),
		fx.Provide(func() embedded.Store { return store }),
		fxmodule.Module, fx.Populate(&cache))
	fxApp.RequireStart()
	defer fxApp.RequireStop()
	if _, err := cache.Token(t.Context(), "kyc"); err != nil {
		t.Fatal(err)
	}
	if n := issuer.calls.Load(); n != 1 {
		t.Fatalf("%d calls to the graph's issuer, want 1", n)
	}
	if tok, err := store.Get(t.Context(), "kyc"); err != nil || tok.AccessToken != "tok" {
		t.Fatalf("the graph's store holds %v, %v", tok, err)
	}
}

// A configuration New refuses fails the application's construction, with
// New's error.
func TestModuleReportsABadConfiguration(t *testing.T) {
	cfg := load(t)
	cfg.Cache.LockTTL = time.Second // shorter than the token timeout
	err := fx.New(fx.NopLogger, fx.Supply(cfg), fxmodule.Module, fx.Invoke(func(*app.Cache) {})).Err()
	if err == nil || !strings.Contains(err.Error(), "JWT_LOCK_TTL") {
		t.Fatalf("fx.New with a bad configuration = %v; want an error naming JWT_LOCK_TTL", err)
	}
}

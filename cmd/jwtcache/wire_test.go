package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// wireConfig is a loaded configuration for the server's wiring, with a
// development token service behind it and the API on a free loopback port.
func wireConfig(t *testing.T, env ...string) config.Config {
	t.Helper()
	dev, err := devissuer.New(devissuer.Options{ClientID: "c", ClientSecret: "s", Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(dev.Handler())
	t.Cleanup(ts.Close)
	cfg, err := config.Load(config.LoadOptions{Environ: append([]string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL + "/oauth/token", "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s",
		"SERVER_ADDRESS=127.0.0.1", "SERVER_PORT=0",
	}, env...)})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestWiringValidates(t *testing.T) {
	for name, env := range map[string][]string{
		"memory": nil,
		"redis":  {"CACHE_TYPE=redis", "REDIS_HOST=127.0.0.1", "REDIS_PORT=1"},
	} {
		if err := fx.ValidateApp(options(wireConfig(t, env...), quietLogger)...); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The wired server hands out tokens while the application runs; stopping
// it stops serving, closes the cache and releases the store.
func TestWiringServesWhileRunning(t *testing.T) {
	mr := miniredis.RunT(t)
	var (
		srv   *rest.Server
		cache *app.Cache
		store embedded.Store
	)
	fxApp := fxtest.New(t, append(options(wireConfig(t, "CACHE_TYPE=redis", "REDIS_ADDRS="+mr.Addr()), quietLogger),
		fx.Populate(&srv, &cache, &store))...)
	fxApp.RequireStart()
	resp, err := http.Get("http://" + srv.Addr() + "/api/v1/jwt/token/kyc")
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ AccessToken string }
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || strings.Count(body.AccessToken, ".") != 2 {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	if !mr.Exists(config.Default().Redis.KeyPrefix + ":jwt:{kyc}:token") {
		t.Fatalf("the token is not in Redis: keys %v", mr.Keys())
	}

	fxApp.RequireStop()
	if _, err := http.Get("http://" + srv.Addr() + "/api/v1/jwt/health"); err == nil {
		t.Error("still serving after the application stopped")
	}
	if _, err := cache.Token(t.Context(), "kyc"); !errors.Is(err, domain.ErrClosed) {
		t.Errorf("Token after stop = %v; want ErrClosed", err)
	}
	if err := store.(ports.Pinger).Ping(t.Context()); err == nil {
		t.Error("the Redis store is still open after the application stopped")
	}
}

func TestWiringPortInUseFailsStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	fxApp := fx.New(options(wireConfig(t, "SERVER_PORT="+strconv.Itoa(port)), quietLogger)...)
	if err := fxApp.Start(t.Context()); err == nil {
		_ = fxApp.Stop(t.Context())
		t.Fatal("Start succeeded on a port in use")
	}
}

// TestManagementServerConfig: MANAGEMENT_ADDRESS and
// MANAGEMENT_MAX_CONNECTIONS reach the management listener, which keeps
// the REST adapter's other management limits; the documented default cap
// is the adapter's.
func TestManagementServerConfig(t *testing.T) {
	sc := restServerConfig(wireConfig(t, "MANAGEMENT_PORT=0", "MANAGEMENT_ADDRESS=127.0.0.2", "MANAGEMENT_MAX_CONNECTIONS=7"))
	if sc.ManagementAddr != "127.0.0.2:0" || sc.Addr != "127.0.0.1:0" {
		t.Errorf("addresses %q and %q", sc.ManagementAddr, sc.Addr)
	}
	want := rest.ManagementLimits
	want.MaxConnections = 7
	if sc.ManagementLimits != want {
		t.Errorf("management limits %+v, want %+v", sc.ManagementLimits, want)
	}
	if sc := restServerConfig(wireConfig(t, "MANAGEMENT_PORT=0")); sc.ManagementLimits != rest.ManagementLimits {
		t.Errorf("default management limits %+v, want %+v", sc.ManagementLimits, rest.ManagementLimits)
	}
	for _, k := range config.Keys() {
		if k.Env == "MANAGEMENT_MAX_CONNECTIONS" && k.Default != strconv.Itoa(rest.DefaultManagementMaxConnections) {
			t.Errorf("MANAGEMENT_MAX_CONNECTIONS documented default %q, the REST adapter's is %d", k.Default, rest.DefaultManagementMaxConnections)
		}
	}
}

// TestDrainWithin: a listener's stop ends reserve before the stop's
// deadline, leaving the rest to the hooks after it; without a deadline it
// has none either.
func TestDrainWithin(t *testing.T) {
	var got time.Time
	var had bool
	stop := drainWithin(7*time.Second, func(ctx context.Context) error {
		got, had = ctx.Deadline()
		return nil
	})
	deadline := time.Now().Add(50 * time.Second)
	ctx, cancel := context.WithDeadline(t.Context(), deadline)
	defer cancel()
	if err := stop(ctx); err != nil || !had || !got.Equal(deadline.Add(-7*time.Second)) {
		t.Errorf("drain deadline %v (%v), want %v", got, had, deadline.Add(-7*time.Second))
	}
	if err := stop(context.Background()); err != nil || had {
		t.Errorf("a drain without a stop deadline got one: %v", got)
	}
}

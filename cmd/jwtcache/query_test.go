package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/config"
)

// TestTokenServiceQueryNeverShown: a token service URL whose query holds a
// secret is shown as scheme://host/path in the start-up log line, and in
// the log, the error body and the unauthenticated /health when the token
// service cannot be reached.
func TestTokenServiceQueryNeverShown(t *testing.T) {
	const querySecret = "QUERYSECRET"
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	cfg, err := config.Load(config.LoadOptions{Environ: []string{
		"JWT_TOKEN_SERVICE_URL=" + down.URL + "/oauth/token?code=" + querySecret, "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s",
		"SERVER_ADDRESS=127.0.0.1", "SERVER_PORT=0",
	}})
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var srv *rest.Server
	app := fxtest.New(t, append(options(cfg, logger), fx.Populate(&srv))...)
	app.RequireStart()
	defer app.RequireStop()

	var bodies []string
	for _, path := range []string{"/api/v1/jwt/token/kyc", "/api/v1/jwt/health"} {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		bodies = append(bodies, path+": "+string(b))
	}
	for _, text := range append(bodies, logs.String()) {
		if strings.Contains(text, querySecret) {
			t.Errorf("the URL's query is shown:\n%s", text)
		}
	}
	if out := logs.String(); !strings.Contains(out, "tokenService="+down.URL+"/oauth/token") {
		t.Errorf("the start-up line does not name the token service as scheme://host/path:\n%s", out)
	}
}

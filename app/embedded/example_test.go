package embedded_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
)

// A Go service embedding jwtcache: the guide's
// jwtTokenService.getBearerToken("kyc"), with the cache configured by the
// same variables as the server.
func ExampleNew() {
	ctx := context.Background()
	// A token service to talk to: the development one, for the example.
	tokenURL, stop := exampleTokenService(ctx)
	defer stop()

	cfg, err := config.Load(config.LoadOptions{Environ: []string{
		"JWT_TOKEN_SERVICE_URL=" + tokenURL,
		"JWT_CLIENT_ID=example-client",
		"JWT_CLIENT_SECRET=example-secret",
		"JWT_TOKEN_SCOPE=api.read",
		// "CACHE_TYPE=redis", "REDIS_HOST=redis.internal" to share tokens
		// with every other replica.
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	cache, err := embedded.New(cfg, embedded.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cache.Close()

	bearer, err := cache.BearerToken(ctx, "kyc")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(strings.HasPrefix(bearer, "Bearer ey"))

	status, _ := cache.Status(ctx, "kyc")
	fmt.Println(status.Exists, status.Scope, status.Lifetime.Round(time.Minute), status.NeedsRenewal())

	stats, _ := cache.Statistics(ctx)
	fmt.Println(stats.TokenServiceRequests, stats.CacheMisses)
	// Output:
	// true
	// true api.read 1h0m0s false
	// 1 1
}

func exampleTokenService(ctx context.Context) (string, func()) {
	srv, err := devissuer.New(devissuer.Options{ClientID: "example-client", ClientSecret: "example-secret",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithCancel(ctx)
	url, err := srv.ListenAndServe(ctx, "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return url, func() { cancel(); _ = srv.Close(context.Background()) }
}

package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
)

// benchFigure is one testing.Benchmark result.
type benchFigure struct {
	name        string
	nsPerOp     float64
	allocsPerOp int64
	bytesPerOp  int64
}

func figureOf(name string, r testing.BenchmarkResult) benchFigure {
	return benchFigure{
		name:        name,
		nsPerOp:     float64(r.T.Nanoseconds()) / float64(max(r.N, 1)),
		allocsPerOp: r.AllocsPerOp(),
		bytesPerOp:  r.AllocedBytesPerOp(),
	}
}

// inProcessResult is the in-process hit: jwtcache and x/oauth2, on one
// goroutine and on every core.
type inProcessResult struct {
	jwtcache, oauth2                 benchFigure
	jwtcacheParallel, oauth2Parallel benchFigure
}

// measureInProcess times a cache hit through the Go API: the core's
// BearerToken against x/oauth2's ReuseTokenSource holding a valid token,
// the cache most Go programs use.
func measureInProcess(ctx context.Context, _ *config, r *report) error {
	store := memory.New(nil)
	svc, err := app.New(app.Options{
		Issuer: &localIssuer{lifetime: time.Hour},
		Store:  store,
		Locker: store,
	})
	if err != nil {
		return err
	}
	defer svc.Close()
	if _, err := svc.BearerToken(ctx, "kyc"); err != nil {
		return err
	}
	reuse := oauth2.ReuseTokenSource(nil, oauth2.StaticTokenSource(&oauth2.Token{
		AccessToken: fakeJWT("kyc", 1), TokenType: "Bearer", Expiry: time.Now().Add(time.Hour),
	}))
	if _, err := reuse.Token(); err != nil {
		return err
	}

	jwtcacheHit := func() error { _, err := svc.BearerToken(ctx, "kyc"); return err }
	oauth2Hit := func() error { _, err := reuse.Token(); return err }
	var failure error
	serial := func(hit func() error) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := hit(); err != nil {
					failure = err
				}
			}
		}
	}
	parallel := func(hit func() error) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					_ = hit() // the serial run reports errors; this one may not write shared state
				}
			})
		}
	}
	res := inProcessResult{
		jwtcache:         figureOf("jwtcache app.Cache.BearerToken", testing.Benchmark(serial(jwtcacheHit))),
		oauth2:           figureOf("x/oauth2 ReuseTokenSource.Token", testing.Benchmark(serial(oauth2Hit))),
		jwtcacheParallel: figureOf("jwtcache, all cores", testing.Benchmark(parallel(jwtcacheHit))),
		oauth2Parallel:   figureOf("x/oauth2, all cores", testing.Benchmark(parallel(oauth2Hit))),
	}
	if failure != nil {
		return fmt.Errorf("a hit failed: %w", failure)
	}
	r.inProcess = &res
	return nil
}

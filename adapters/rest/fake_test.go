package rest

import (
	"context"
	"time"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// testNow is the instant of the guide's examples.
var testNow = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

// secretToken is the credential the fake hands out; tests look for it in
// places it must never appear.
const secretToken = "eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXBheWxvYWQ.sig-S3CR3T"

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// fakeService is a Cache whose answers the test chooses. A nil
// func field gets a plausible default; every service name is validated
// first, as the core does.
type fakeService struct {
	token   func(ctx context.Context, service string) (domain.Token, error)
	refresh func(ctx context.Context, service string) (domain.Token, error)
	// refreshReused marks every successful refresh as a reused one.
	refreshReused bool
	evict         func(ctx context.Context, service string) (app.Eviction, error)
	status        func(ctx context.Context, service string) (app.TokenStatus, error)
	statuses      func(ctx context.Context) (app.Statuses, error)
	statistics    func(ctx context.Context) (app.Statistics, error)
	health        func(ctx context.Context) app.Health
	// panics makes every method panic with this value when non-nil.
	panics any
	// feed is the event feed served at /events; nil: none.
	feed *app.EventFeed
}

var (
	_ Cache       = (*fakeService)(nil)
	_ EventSource = (*fakeService)(nil)
)

func (f *fakeService) Events() *app.EventFeed { return f.feed }

// guideToken is the token of the guide's example, issued at testNow for
// an hour.
func guideToken() domain.Token {
	return domain.Token{
		AccessToken: secretToken,
		TokenType:   "Bearer",
		Scope:       "api.read api.write",
		IssuedAt:    testNow,
		ExpiresAt:   testNow.Add(time.Hour),
	}
}

// describe is the status the guide shows for tok at testNow with the
// default 20 s buffer.
func describe(service string, tok domain.Token) app.TokenStatus {
	st := domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}.Standing(tok, testNow)
	return app.TokenStatus{
		Service:                 service,
		Exists:                  true,
		TokenType:               tok.TokenType,
		Scope:                   tok.Scope,
		Lifetime:                tok.Lifetime(),
		IssuedAt:                tok.IssuedAt,
		ExpiresAt:               tok.ExpiresAt,
		CacheExpiresAt:          st.CacheExpiresAt,
		SecondsUntilExpiry:      st.SecondsUntilExpiry,
		SecondsUntilCacheExpiry: st.SecondsUntilCacheExpiry,
		State:                   st.State,
		BoundToCertificate:      tok.BoundToCertificate,
		At:                      testNow,
	}
}

func (f *fakeService) check(service string) error {
	if f.panics != nil {
		panic(f.panics)
	}
	return domain.ValidateServiceName(service)
}

func (f *fakeService) Token(ctx context.Context, service string) (domain.Token, error) {
	if err := f.check(service); err != nil {
		return domain.Token{}, err
	}
	if f.token != nil {
		return f.token(ctx, service)
	}
	return guideToken(), nil
}

func (f *fakeService) Describe(service string, tok domain.Token) app.TokenStatus {
	return describe(service, tok)
}

func (f *fakeService) RefreshWithResult(ctx context.Context, service string) (app.RefreshResult, error) {
	if err := f.check(service); err != nil {
		return app.RefreshResult{}, err
	}
	tok := guideToken()
	if f.refresh != nil {
		var err error
		if tok, err = f.refresh(ctx, service); err != nil {
			return app.RefreshResult{}, err
		}
	}
	return app.RefreshResult{Token: tok, Reused: f.refreshReused}, nil
}

func (f *fakeService) Evict(ctx context.Context, service string) (app.Eviction, error) {
	if err := f.check(service); err != nil {
		return app.Eviction{}, err
	}
	if f.evict != nil {
		return f.evict(ctx, service)
	}
	return app.Eviction{Service: service, Removed: true, Token: describe(service, guideToken())}, nil
}

func (f *fakeService) Status(ctx context.Context, service string) (app.TokenStatus, error) {
	if err := f.check(service); err != nil {
		return app.TokenStatus{}, err
	}
	if f.status != nil {
		return f.status(ctx, service)
	}
	return describe(service, guideToken()), nil
}

func (f *fakeService) Statuses(ctx context.Context) (app.Statuses, error) {
	if f.panics != nil {
		panic(f.panics)
	}
	if f.statuses != nil {
		return f.statuses(ctx)
	}
	return app.Statuses{At: testNow, Tokens: []app.TokenStatus{
		describe("kyc", guideToken()),
		describe("data-processor", guideToken()),
	}}, nil
}

func (f *fakeService) Statistics(ctx context.Context) (app.Statistics, error) {
	if f.panics != nil {
		panic(f.panics)
	}
	if f.statistics != nil {
		return f.statistics(ctx)
	}
	return app.Statistics{
		At: testNow, TotalTokens: 3, ActiveTokens: 3, RenewingTokens: 1,
		Counters: app.Counters{CacheHits: 95, CacheMisses: 5, TokenServiceRequests: 7, TokenServiceFailures: 1,
			Renewals: 4, RenewalFailures: 1, ForcedRefreshes: 2, Evictions: 1,
			ServiceLimitRefusals: 19000, RateLimitRefusals: 3, ReusedRefreshes: 99},
	}, nil
}

func (f *fakeService) Health(ctx context.Context) app.Health {
	if f.panics != nil {
		panic(f.panics)
	}
	if f.health != nil {
		return f.health(ctx)
	}
	return app.Health{At: testNow, Status: app.StatusUp,
		Store: app.ComponentHealth{Status: app.StatusUp}, TokenService: app.ComponentHealth{Status: app.StatusUp}}
}

package rest

import (
	"context"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// Cache is what the REST API needs from jwtcache's core. The core's
// token service satisfies it; tests use a fake.
//
// The service name is passed through exactly as the client sent it: the
// core validates it and answers domain.ErrInvalidServiceName.
type Cache interface {
	// Token returns the cached token of service, fetching one if needed.
	Token(ctx context.Context, service string) (domain.Token, error)
	// Describe is the status of tok, service's token, at the current
	// instant (Exists is true).
	Describe(service string, tok domain.Token) app.TokenStatus
	// RefreshWithResult fetches a new token for service whatever the
	// cache holds, or reuses that of a forced refresh moments earlier
	// (Reused).
	RefreshWithResult(ctx context.Context, service string) (app.RefreshResult, error)
	// Evict removes service's cached token.
	Evict(ctx context.Context, service string) (app.Eviction, error)
	// Status describes service's cached token; Exists is false, and the
	// error nil, when nothing is cached.
	Status(ctx context.Context, service string) (app.TokenStatus, error)
	// Statuses describes every cached token.
	Statuses(ctx context.Context) (app.Statuses, error)
	// Statistics returns the cache's counters.
	Statistics(ctx context.Context) (app.Statistics, error)
	// Health checks the store and the token service.
	Health(ctx context.Context) app.Health
}

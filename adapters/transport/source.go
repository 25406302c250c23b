package transport

import (
	"context"

	"github.com/jwtcache/jwtcache/domain"
)

// Source hands out the token of a service. *app.Cache and *Remote
// implement it.
//
// Token returns a valid token for service, from a cache when it can.
// Refresh obtains a new one whatever the cache holds; the Transport calls it
// when a server rejects a token with 401. Both must be safe for concurrent
// use, and their errors must never contain a token.
type Source interface {
	Token(ctx context.Context, service string) (domain.Token, error)
	Refresh(ctx context.Context, service string) (domain.Token, error)
}

// BearerSource is implemented by Sources that can return the Authorization
// header value itself, "Bearer <token>", prebuilt. The Transport uses it
// instead of Token when its Source has it, so that signing a request with a
// cached token builds no string.
type BearerSource interface {
	BearerToken(ctx context.Context, service string) (string, error)
}

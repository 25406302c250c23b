package transport

import (
	"context"
	"fmt"

	"golang.org/x/oauth2"
)

// TokenSource adapts src to golang.org/x/oauth2: its Token method returns
// service's token from src, so that oauth2.NewClient, oauth2.Transport and
// gRPC's per-RPC credentials (credentials/oauth.TokenSource) use jwtcache
// unchanged. oauth2.TokenSource has no context, so src is asked with
// context.Background(): a call waits as long as src allows (an
// *app.Cache bounds a fetch by its FetchTimeout, a Remote by its
// Timeout). TokenSourceContext takes a context instead.
//
// src caches already; there is no need for oauth2.ReuseTokenSource, and
// the one oauth2.NewClient adds keeps a token until shortly before its
// expiry rather than the cache's earlier renewal, and does not see a
// refresh. The returned TokenSource is safe for concurrent use.
func TokenSource(src Source, service string) oauth2.TokenSource {
	return TokenSourceContext(context.Background(), src, service)
}

// TokenSourceContext is TokenSource asking src with ctx, which should live
// as long as the TokenSource is used.
func TokenSourceContext(ctx context.Context, src Source, service string) oauth2.TokenSource {
	return &tokenSource{ctx: ctx, src: src, service: service}
}

type tokenSource struct {
	ctx     context.Context
	src     Source
	service string
}

// Token returns a new *oauth2.Token on each call, as oauth2.TokenSource
// requires (callers may keep it); Expiry is the token's expiry.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.src.Token(s.ctx, s.service)
	if err != nil {
		return nil, fmt.Errorf("transport: token for service %q: %w", s.service, err)
	}
	return &oauth2.Token{AccessToken: tok.AccessToken, TokenType: tok.TokenType, Expiry: tok.ExpiresAt}, nil
}

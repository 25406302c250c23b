package main

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// tokenBytes is the length of the tokens localIssuer hands out: about that
// of an ES256 JWT from the development token service, so that memory per
// token is what a real token costs.
const tokenBytes = 420

// localIssuer is a ports.TokenIssuer that answers at once, in the process,
// with a distinct JWT-sized token living lifetime. It stands in for the
// token service where the figure is about jwtcache, not about HTTP.
type localIssuer struct {
	lifetime time.Duration
	calls    atomic.Int64
}

var _ ports.TokenIssuer = (*localIssuer)(nil)

func (i *localIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	n := i.calls.Add(1)
	now := time.Now()
	return domain.Token{
		AccessToken: fakeJWT(service, n),
		TokenType:   "Bearer",
		Scope:       "api.read",
		IssuedAt:    now,
		ExpiresAt:   now.Add(i.lifetime),
	}, nil
}

// fakeJWT is a token of tokenBytes characters in the three-part shape of a
// JWT, unique per (service, n).
func fakeJWT(service string, n int64) string {
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`))
	body := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + service + `","jti":"` + strconv.FormatInt(n, 10) + `"}`))
	tok := head + "." + body + "."
	if pad := tokenBytes - len(tok); pad > 0 {
		tok += strings.Repeat("s", pad)
	}
	return tok
}

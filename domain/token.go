package domain

import (
	"strings"
	"time"
)

// Token is an OAuth2 access token as jwtcache caches it. The zero Token is
// not a valid token; IsZero reports it.
//
// A Token is a value: copies are independent and safe to share between
// goroutines. AccessToken is a credential and must never be logged; String
// and GoString redact it so that a stray %v cannot leak it.
type Token struct {
	// AccessToken is the credential itself (usually a JWT).
	AccessToken string
	// TokenType is the RFC 6749 token_type, normalised so that "bearer"
	// answers "Bearer".
	TokenType string
	// Scope is the space-separated scope the token service granted.
	Scope string
	// IssuedAt is the instant the token service answered.
	IssuedAt time.Time
	// ExpiresAt is the instant the token stops being accepted.
	ExpiresAt time.Time
	// BoundToCertificate is true for a token bound to the client
	// certificate it was requested with (RFC 8705 §3: a cnf claim with
	// x5t#S256): resource servers accept it only over a connection that
	// presents the same certificate.
	BoundToCertificate bool
}

// Lifetime is the span between issue and expiry, the token service's
// expires_in.
func (t Token) Lifetime() time.Duration { return t.ExpiresAt.Sub(t.IssuedAt) }

// CachedUntil is the end of t's cached life when a cache keeps a token at
// most maxLife after it was fetched (CACHE_TTL): the earlier of ExpiresAt
// and IssuedAt + maxLife. A maxLife of zero or less, or a token without an
// IssuedAt, leaves ExpiresAt alone. Every store and the renewal policy use
// it, so that a token is renewed before any store drops it.
func (t Token) CachedUntil(maxLife time.Duration) time.Time {
	if maxLife <= 0 || t.IssuedAt.IsZero() {
		return t.ExpiresAt
	}
	if end := t.IssuedAt.Add(maxLife); end.Before(t.ExpiresAt) {
		return end
	}
	return t.ExpiresAt
}

// IsZero reports whether t holds no token.
func (t Token) IsZero() bool { return t.AccessToken == "" }

// Expired reports whether t is no longer valid at now. A token is valid up
// to, but not including, ExpiresAt.
func (t Token) Expired(now time.Time) bool { return !now.Before(t.ExpiresAt) }

// AuthorizationHeader is the value of an Authorization header carrying t:
// its (normalised) token type, a space, the token; "Bearer eyJ..." for
// every client-credentials token in practice.
func (t Token) AuthorizationHeader() string {
	return NormalizeTokenType(t.TokenType) + " " + t.AccessToken
}

// String describes t without its credential.
func (t Token) String() string {
	return "Token{type=" + t.TokenType + " scope=" + t.Scope +
		" issuedAt=" + t.IssuedAt.UTC().Format(time.RFC3339) +
		" expiresAt=" + t.ExpiresAt.UTC().Format(time.RFC3339) + " accessToken=[redacted]}"
}

// GoString keeps %#v from printing the credential.
func (t Token) GoString() string { return t.String() }

// NormalizeTokenType returns the canonical spelling of an RFC 6749
// token_type: "Bearer" whatever case the server used, "Bearer" for an empty
// value (RFC 6750 is the only type in practical use), other types unchanged.
func NormalizeTokenType(tokenType string) string {
	if tokenType == "" || strings.EqualFold(tokenType, "bearer") {
		return "Bearer"
	}
	return tokenType
}

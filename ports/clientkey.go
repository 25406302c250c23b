package ports

// ClientKeyer is an optional capability of a TokenIssuer's owner: it tells
// the core which token-service client asks for a service's tokens, so that
// the core can give each client its own budget of token-service calls
// (a rate limit keyed by client, not by service name).
//
// ClientKey returns a key equal for every service that the same client
// (same token endpoint or issuer, same client id) asks for, and ok false
// when no client would ask at all: the issuer then refuses service with
// domain.ErrUnknownService without a request, and the core charges no
// budget for it. A key is an identity, never a secret. ClientKey is a
// lookup in the issuer's configuration, with no I/O, so it takes no
// context.
type ClientKeyer interface {
	ClientKey(service string) (key string, ok bool)
}

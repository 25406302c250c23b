package ports

import "context"

// IssuerProber checks that the token service can be reached and answers
// like an OAuth2 token endpoint, without obtaining a token, for the health
// check's periodic probe.
//
// Probe checks every distinct token endpoint the issuer uses, each once,
// and returns nil when all of them answered as a working token endpoint
// would. Otherwise its error names each failing endpoint's host, never a
// secret, and wraps a *domain.TokenServiceError saying how it failed. A
// probe is not a token request: it never counts as one in statistics or
// metrics, and never touches the issuer's negative cache.
type IssuerProber interface {
	Probe(ctx context.Context) error
}

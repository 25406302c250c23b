package metrics

import (
	"context"

	"github.com/jwtcache/jwtcache/ports"
)

var _ ports.IssuerProber = (*probingIssuer)(nil)

// probingIssuer is the issuer decorator of an issuer that can be probed:
// Probe passes through, and is not counted, since a probe is not a token
// request.
type probingIssuer struct {
	*issuer
	prober ports.IssuerProber
}

func (p *probingIssuer) Probe(ctx context.Context) error { return p.prober.Probe(ctx) }

// decorate is the issuer decorator for next, keeping its Probe if it has
// one.
func (m *Metrics) decorate(next ports.TokenIssuer) ports.TokenIssuer {
	d := &issuer{next: next, m: m}
	if p, ok := next.(ports.IssuerProber); ok {
		return &probingIssuer{issuer: d, prober: p}
	}
	return d
}

package metrics

import (
	"context"
	"errors"
	"testing"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// probeableIssuer is an issuer that can be probed.
type probeableIssuer struct {
	issuerFunc
	probes int
	err    error
}

func (p *probeableIssuer) Probe(context.Context) error {
	p.probes++
	return p.err
}

// TestIssuerPassesProbesUncounted: the decorated issuer is still a
// ports.IssuerProber when the issuer is one, and probes are not counted as
// token-service requests; an issuer that cannot be probed does not become
// one.
func TestIssuerPassesProbesUncounted(t *testing.T) {
	m := New(Options{Logger: quiet})
	down := errors.New("token endpoint down")
	inner := &probeableIssuer{issuerFunc: func(context.Context, string) (domain.Token, error) { return domain.Token{}, nil }, err: down}
	p, ok := m.Issuer(inner).(ports.IssuerProber)
	if !ok {
		t.Fatal("the decorated issuer lost its Probe")
	}
	if err := p.Probe(t.Context()); !errors.Is(err, down) || inner.probes != 1 {
		t.Fatalf("Probe = %v after %d probes, want the issuer's own answer once", err, inner.probes)
	}
	for o := range outcome(numOutcomes) {
		if n := mustValue(t, m, "jwtcache_token_service_requests_total", "outcome", o.String()); n != 0 {
			t.Errorf("a probe was counted as a token-service request (%s: %v)", o, n)
		}
	}
	plain := issuerFunc(func(context.Context, string) (domain.Token, error) { return domain.Token{}, nil })
	if _, ok := m.Issuer(plain).(ports.IssuerProber); ok {
		t.Error("an issuer without Probe became a prober")
	}
}

package embedded

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

type reportingIssuer struct{ creds, disc error }

func (reportingIssuer) Issue(context.Context, string) (domain.Token, error) {
	return domain.Token{}, errors.New("not used")
}
func (r reportingIssuer) CredentialsHealth() error { return r.creds }
func (r reportingIssuer) DiscoveryHealth() error   { return r.disc }

type plainIssuer struct{}

func (plainIssuer) Issue(context.Context, string) (domain.Token, error) {
	return domain.Token{}, errors.New("not used")
}

func TestIssuerHealthMapsTheIssuersReports(t *testing.T) {
	if issuerHealthOf(plainIssuer{}) != nil {
		t.Fatal("an issuer reporting nothing got an IssuerHealth")
	}
	never := fmt.Errorf("issuer %q: %w", "https://idp.example", tokenservice.ErrNoDiscoveryDocument)
	stale := fmt.Errorf("issuer %q: %w", "https://idp.example", tokenservice.ErrDiscoveryStale)
	badFile := errors.New("credential file /run/secrets/s: empty")
	for _, tc := range []struct {
		name       string
		issuer     reportingIssuer
		ok, isDown bool
	}{
		{"all well", reportingIssuer{}, true, false},
		{"credential file gone bad", reportingIssuer{creds: badFile}, false, false},
		{"discovery stale", reportingIssuer{disc: stale}, false, false},
		{"discovery never fetched", reportingIssuer{disc: never}, false, true},
		{"both", reportingIssuer{creds: badFile, disc: never}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := issuerHealthOf(tc.issuer)()
			if (err == nil) != tc.ok || errors.Is(err, app.ErrIssuerDown) != tc.isDown {
				t.Fatalf("IssuerHealth() = %v; want ok %v, down %v", err, tc.ok, tc.isDown)
			}
		})
	}
}

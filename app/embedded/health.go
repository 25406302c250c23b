package embedded

import (
	"errors"
	"fmt"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/ports"
)

// credentialsHealth and discoveryHealth are what tokenservice.Issuer
// reports about itself beyond its calls; an issuer of the caller's own may
// implement either.
type credentialsHealth interface{ CredentialsHealth() error }
type discoveryHealth interface{ DiscoveryHealth() error }

// issuerHealthOf is the core's Options.IssuerHealth for issuer: a
// credential file gone bad or a stale discovery document make the token
// service DEGRADED; an issuer whose discovery document was never fetched
// gets no token, which the core reads as DOWN (app.ErrIssuerDown). nil
// when the issuer reports neither.
func issuerHealthOf(issuer ports.TokenIssuer) func() error {
	creds, hasCreds := issuer.(credentialsHealth)
	disc, hasDisc := issuer.(discoveryHealth)
	if !hasCreds && !hasDisc {
		return nil
	}
	return func() error {
		var errs []error
		if hasDisc {
			if err := disc.DiscoveryHealth(); errors.Is(err, tokenservice.ErrNoDiscoveryDocument) {
				errs = append(errs, fmt.Errorf("%w: %w", app.ErrIssuerDown, err))
			} else if err != nil {
				errs = append(errs, err)
			}
		}
		if hasCreds {
			if err := creds.CredentialsHealth(); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

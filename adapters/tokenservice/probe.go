package tokenservice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

var _ ports.IssuerProber = (*Issuer)(nil)

// Probe checks every distinct token endpoint the issuer's clients use (a
// strict issuer's default client serves no service and is left out; a
// client with an issuer URL uses the endpoint its discovery document names
// now), each once and all at once, without obtaining a token: it POSTs a
// form with grant_type alone and no client authentication in the form or
// headers, through the client's own HTTP client (its CA; a client
// certificate, if it has one, is presented in the TLS handshake, but with
// no client_id nothing is issued). A token endpoint that works refuses
// that with an RFC 6749 §5.2 error body and status 400 or 401, and that is
// what Probe takes as healthy. Anything else is not: no connection, a
// discovery document that cannot be had, a timeout (each endpoint gets the
// longest timeout of the clients using it), a 5xx, a 429, or an answer
// that is not an OAuth2 error (a proxy's HTML page, a 404, a 200).
//
// The error joins one error per failing endpoint, each naming the
// endpoint's host (never its path, query or a credential) and wrapping a
// *domain.TokenServiceError. Probes are not token requests: they use no
// credential, leave the negative cache alone and are not counted by any
// statistics.
func (i *Issuer) Probe(ctx context.Context) error {
	targets, errs := i.probeTargets()
	results := make([]error, len(targets))
	var wg sync.WaitGroup
	for n, t := range targets {
		wg.Go(func() { results[n] = i.probe(ctx, t) })
	}
	wg.Wait()
	return errors.Join(append(errs, results...)...)
}

// probeTarget is one distinct endpoint and the client to probe it with.
type probeTarget struct {
	endpoint string
	client   *client
}

// probeTargets are the distinct endpoints of the clients in use, sorted,
// and the errors of clients whose endpoint cannot be known now (discovery
// failing).
func (i *Issuer) probeTargets() ([]probeTarget, []error) {
	byEndpoint := map[string]*probeTarget{}
	var errs []error
	add := func(c *client) {
		ep, err := c.tokenEndpoint()
		if err != nil {
			errs = append(errs, fmt.Errorf("tokenservice: probe: %w",
				&domain.TokenServiceError{Kind: domain.Unreachable, Err: err}))
			return
		}
		t, ok := byEndpoint[ep]
		if !ok {
			byEndpoint[ep] = &probeTarget{endpoint: ep, client: c}
			return
		}
		if c.timeout > t.client.timeout {
			t.client = c
		}
	}
	if !i.strict {
		add(i.def)
	}
	for _, name := range slices.Sorted(maps.Keys(i.services)) {
		add(i.services[name])
	}
	out := make([]probeTarget, 0, len(byEndpoint))
	for _, ep := range slices.Sorted(maps.Keys(byEndpoint)) {
		out = append(out, *byEndpoint[ep])
	}
	return out, errs
}

// probe probes one endpoint; nil means healthy.
func (i *Issuer) probe(ctx context.Context, t probeTarget) error {
	host := t.endpoint
	if u, err := url.Parse(t.endpoint); err == nil {
		host = u.Host
	}
	fail := func(err error) error {
		return fmt.Errorf("tokenservice: probe of the token endpoint at %s: %w", host, t.client.finish(err, ""))
	}
	reqCtx, cancel := context.WithTimeout(ctx, t.client.timeout)
	defer cancel()
	form := url.Values{"grant_type": {cmp.Or(t.client.grant, DefaultGrantType)}}.Encode()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, t.endpoint, strings.NewReader(form))
	if err != nil {
		return fail(&domain.TokenServiceError{Kind: domain.BadResponse, Err: errors.New("cannot build the probe request")})
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := i.httpFor(t.client).Do(req)
	if err != nil {
		return fail(transportError(ctx, reqCtx, "", err))
	}
	defer resp.Body.Close()
	body, readErr := readLimited(resp.Body, i.maxBody)
	if readErr != nil && !errors.Is(readErr, ErrBodyTooLarge) {
		return fail(transportError(ctx, reqCtx, "", readErr))
	}
	if readErr == nil && (resp.StatusCode == http.StatusBadRequest || resp.StatusCode == http.StatusUnauthorized) {
		if _, _, ok := parseOAuthError(body); ok {
			return nil
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Whatever it is, it is not a token endpoint refusing a request
		// without credentials. The body may hold a token: it is dropped.
		return fail(&domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: resp.StatusCode, Err: ErrUnexpectedStatus})
	}
	return fail(errorResponse("", resp, body, readErr, i.clock.Now()))
}

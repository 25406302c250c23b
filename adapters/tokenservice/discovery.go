package tokenservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/internal/redact"
	"github.com/jwtcache/jwtcache/internal/textclip"
)

// Discovery limits and intervals (see Reach).
const (
	// DefaultDiscoveryRefresh is how often a discovery document is fetched
	// again: token endpoints and supported methods change rarely, and a
	// refresh that fails keeps the last document.
	DefaultDiscoveryRefresh = time.Hour
	// DefaultDiscoveryTimeout bounds one fetch of a discovery document.
	DefaultDiscoveryTimeout = 10 * time.Second
	// DefaultMaxDiscoveryBytes bounds a discovery document; real ones are a
	// few KiB.
	DefaultMaxDiscoveryBytes int64 = 256 << 10
	// DiscoveryRetryMin and DiscoveryRetryMax bound the wait between
	// failed fetches: it starts at the first and doubles up to the second,
	// jittered so that a fleet does not retry in lockstep.
	DiscoveryRetryMin = time.Second
	DiscoveryRetryMax = time.Minute
)

// Well-known suffixes of the discovery documents: OpenID Connect Discovery
// 1.0 §4, and RFC 8414 §3.
const (
	wellKnownOpenID = "/.well-known/openid-configuration"
	wellKnownOAuth  = "/.well-known/oauth-authorization-server"
)

var (
	// ErrNoDiscoveryDocument: no discovery document has been fetched yet
	// (the issuer has been unreachable since start-up), so there is no
	// token endpoint. Issue returns it as an Unreachable error, and
	// DiscoveryHealth reports it: the health to report is DOWN.
	ErrNoDiscoveryDocument = errors.New("no discovery document fetched yet")
	// ErrDiscoveryStale: the discovery document could not be fetched
	// again; the last one is still in use (DiscoveryHealth: DEGRADED).
	ErrDiscoveryStale = errors.New("the discovery document could not be fetched again; the last one is in use")
	// ErrBadDiscoveryDocument is wrapped by the error of a document that
	// cannot be used: not JSON, another issuer, no token endpoint.
	ErrBadDiscoveryDocument = errors.New("unusable discovery document")
)

// DiscoveryError is the error of an issuer whose discovery document
// cannot be used: there is none at either well-known address, or it names
// another issuer or no token endpoint. New returns it, wrapped, when it
// finds such a document at start-up, so that the caller can name the
// configuration key; an issuer that cannot be reached at all is not an
// error of New (see Reach).
type DiscoveryError struct {
	// IssuerURL is the issuer as configured.
	IssuerURL string
	Err       error
}

func (e *DiscoveryError) Error() string {
	return fmt.Sprintf("issuer URL %q: %v", e.IssuerURL, e.Err)
}

func (e *DiscoveryError) Unwrap() error { return e.Err }

// document is what jwtcache uses of a discovery document.
type document struct {
	TokenEndpoint string
	// MTLSTokenEndpoint is the token endpoint for clients presenting a
	// certificate (RFC 8705 §5), or "".
	MTLSTokenEndpoint string
	// AuthMethods is token_endpoint_auth_methods_supported.
	AuthMethods []string
}

// discovery keeps one issuer's discovery document.
type discovery struct {
	issuer string
	// urls are the addresses tried in order, as issuer-specific as RFC
	// 8414 §3.1 and OpenID Connect Discovery §4 allow.
	urls []string
	r    *reach
	// users are the clients of this issuer, for the method checks.
	users []*client

	doc atomic.Pointer[document]
	mu  sync.Mutex
	err error // guarded by mu: the latest fetch's failure, nil after a success
}

// discovery is the discovery of issuer, shared by every client naming it.
func (r *reach) discovery(issuer string) (*discovery, error) {
	if d, ok := r.discs[issuer]; ok {
		return d, nil
	}
	u, err := checkEndpoint(issuer, "issuer URL")
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" {
		// RFC 8414 §2.
		return nil, errors.New("issuer URL must not have a query")
	}
	d := &discovery{issuer: issuer, urls: wellKnownURLs(u), r: r}
	r.discs[issuer] = d
	return d, nil
}

// wellKnownURLs are the discovery addresses of issuer u: OpenID Connect's
// (the suffix appended to the issuer, path and all), then RFC 8414's (the
// suffix inserted between the host and the path), then, for an issuer with
// a path, the OpenID suffix inserted the RFC 8414 way, which some servers
// use.
func wellKnownURLs(u *url.URL) []string {
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	urls := []string{origin + path + wellKnownOpenID, origin + wellKnownOAuth + path}
	if path != "" {
		urls = append(urls, origin+wellKnownOpenID+path)
	}
	return urls
}

// current is the document in use, or an error wrapping
// ErrNoDiscoveryDocument.
func (d *discovery) current() (*document, error) {
	if doc := d.doc.Load(); doc != nil {
		return doc, nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return nil, fmt.Errorf("issuer %q: %w: %v", d.issuer, ErrNoDiscoveryDocument, d.err)
	}
	return nil, fmt.Errorf("issuer %q: %w", d.issuer, ErrNoDiscoveryDocument)
}

// health is nil while the latest fetch succeeded.
func (d *discovery) health() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.doc.Load() == nil && d.err != nil:
		return fmt.Errorf("issuer %q: %w: %v", d.issuer, ErrNoDiscoveryDocument, d.err)
	case d.doc.Load() == nil:
		return fmt.Errorf("issuer %q: %w", d.issuer, ErrNoDiscoveryDocument)
	case d.err != nil:
		return fmt.Errorf("issuer %q: %w: %v", d.issuer, ErrDiscoveryStale, d.err)
	}
	return nil
}

// start fetches every issuer's document once and then keeps them fresh in
// the background. A document that cannot be used is an error; an issuer
// that cannot be reached is not: it is retried in the background, and its
// clients fail as Unreachable meanwhile.
func (r *reach) start() error {
	for _, d := range r.discs {
		doc, err, permanent := d.fetch(r.ctx)
		switch {
		case err == nil:
			d.store(doc)
		case permanent:
			return &DiscoveryError{IssuerURL: d.issuer, Err: err}
		default:
			d.fail(err)
		}
	}
	for _, d := range r.discs {
		r.wg.Go(func() { d.run(r.ctx) })
	}
	return nil
}

// run fetches the document again every DiscoveryRefresh, or, while
// fetches fail, after a backoff, until ctx ends.
func (d *discovery) run(ctx context.Context) {
	refresh := d.r.opts.DiscoveryRefresh
	if refresh <= 0 {
		refresh = DefaultDiscoveryRefresh
	}
	retry := DiscoveryRetryMin
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		wait := refresh
		if d.health() != nil {
			wait = retry/2 + rand.N(retry/2+1)
			retry = min(2*retry, DiscoveryRetryMax)
		} else {
			retry = DiscoveryRetryMin
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		doc, err, _ := d.fetch(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.fail(err)
			continue
		}
		d.store(doc)
	}
}

func (d *discovery) store(doc *document) {
	old := d.doc.Swap(doc)
	d.mu.Lock()
	recovered := d.err != nil
	d.err = nil
	d.mu.Unlock()
	log := d.r.log
	switch {
	case old == nil:
		log.Info("tokenservice: discovery document fetched", "issuer", d.issuer, "tokenEndpoint", redact.URL(doc.TokenEndpoint))
	case old.TokenEndpoint != doc.TokenEndpoint:
		log.Info("tokenservice: token endpoint changed", "issuer", d.issuer, "tokenEndpoint", redact.URL(doc.TokenEndpoint))
	case recovered:
		log.Info("tokenservice: discovery document fetched again", "issuer", d.issuer)
	}
	if old == nil || !slices.Equal(old.AuthMethods, doc.AuthMethods) {
		d.checkMethods(doc)
	}
}

func (d *discovery) fail(err error) {
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	if d.doc.Load() == nil {
		d.r.log.Warn("tokenservice: issuer unreachable; its token requests fail until it answers, retrying", "issuer", d.issuer, "err", err)
	} else {
		d.r.log.Warn("tokenservice: discovery document could not be fetched again; keeping the last one", "issuer", d.issuer, "err", err)
	}
}

// checkMethods logs how each client of the issuer will authenticate, and
// warns when the issuer does not list that method (its list may be
// incomplete, so the method is tried anyway).
func (d *discovery) checkMethods(doc *document) {
	for _, c := range d.users {
		if c.authMethod != "" {
			if supported := doc.AuthMethods; len(supported) > 0 && !slices.Contains(supported, c.authMethod) {
				d.r.log.Warn("tokenservice: the issuer does not list the configured auth method; trying it anyway",
					"issuer", d.issuer, "clientId", c.id, "authMethod", c.authMethod, "supported", supported)
			}
			continue
		}
		m, ok := chooseMethod(c.cr.possible, doc.AuthMethods)
		if !ok {
			d.r.log.Warn("tokenservice: the issuer lists none of the auth methods the client's credentials allow; trying the best of them",
				"issuer", d.issuer, "clientId", c.id, "authMethod", m, "supported", doc.AuthMethods)
			continue
		}
		d.r.log.Info("tokenservice: auth method chosen from the discovery document", "issuer", d.issuer, "clientId", c.id, "authMethod", m)
	}
}

// fetch gets the document from the first well-known address that has
// one. permanent is true when the answer, not the network, is the problem:
// no document at any address, or an unusable one.
func (d *discovery) fetch(ctx context.Context) (_ *document, err error, permanent bool) {
	opts := d.r.opts
	timeout := opts.DiscoveryTimeout
	if timeout <= 0 {
		timeout = DefaultDiscoveryTimeout
	}
	maxBytes := opts.MaxDiscoveryBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxDiscoveryBytes
	}
	client := d.r.httpClient(nil)
	for _, u := range d.urls {
		body, status, err := get(ctx, client, u, timeout, maxBytes)
		switch {
		case errors.Is(err, ErrBodyTooLarge):
			return nil, fmt.Errorf("%s: %w", u, err), true
		case err != nil:
			return nil, fmt.Errorf("%s: %w", u, err), false
		case status == http.StatusNotFound || status == http.StatusGone:
			continue
		case status != http.StatusOK:
			return nil, fmt.Errorf("%s answered HTTP %d", u, status), false
		}
		doc, err := parseDocument(body, d.issuer)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", u, err), true
		}
		return doc, nil, false
	}
	return nil, fmt.Errorf("no discovery document at %s (HTTP 404)", strings.Join(d.urls, " or ")), true
}

func get(ctx context.Context, client *http.Client, u string, timeout time.Duration, maxBytes int64) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, maxBytes)
	if err != nil {
		return nil, resp.StatusCode, err
	}
	return body, resp.StatusCode, nil
}

// parseDocument reads a discovery document of issuer.
func parseDocument(body []byte, issuer string) (*document, error) {
	var raw struct {
		Issuer        json.RawMessage `json:"issuer"`
		TokenEndpoint json.RawMessage `json:"token_endpoint"`
		AuthMethods   []string        `json:"token_endpoint_auth_methods_supported"`
		MTLS          struct {
			TokenEndpoint json.RawMessage `json:"token_endpoint"`
		} `json:"mtls_endpoint_aliases"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("%w: not a JSON object with the RFC 8414 fields", ErrBadDiscoveryDocument)
	}
	got, _ := jsonString(raw.Issuer)
	if got != issuer {
		// RFC 8414 §3.3: a document for another issuer could send the
		// client's credentials elsewhere.
		return nil, fmt.Errorf("%w: its issuer %s is not the issuer URL (RFC 8414 §3.3: they must be identical)",
			ErrBadDiscoveryDocument, strconv.Quote(textclip.Clip(clean(got), maxDescriptionLen)))
	}
	te, _ := jsonString(raw.TokenEndpoint)
	if te == "" {
		return nil, fmt.Errorf("%w: it has no token_endpoint", ErrBadDiscoveryDocument)
	}
	u, err := checkEndpoint(te, "its token_endpoint")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDiscoveryDocument, err)
	}
	doc := &document{TokenEndpoint: u.String(), AuthMethods: raw.AuthMethods}
	if mt, _ := jsonString(raw.MTLS.TokenEndpoint); mt != "" {
		u, err := checkEndpoint(mt, "its mtls_endpoint_aliases.token_endpoint")
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadDiscoveryDocument, err)
		}
		doc.MTLSTokenEndpoint = u.String()
	}
	return doc, nil
}

// DiscoveryHealth is nil while every issuer's discovery document is
// current, or when no client uses discovery. Otherwise the error wraps
// ErrNoDiscoveryDocument when some issuer has never answered (its clients
// get no token: DOWN, unless tokens are cached), else ErrDiscoveryStale
// (the last document is in use: DEGRADED).
func (i *Issuer) DiscoveryHealth() error {
	var errs []error
	for _, d := range i.reach.discs {
		if err := d.health(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

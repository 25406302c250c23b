// Package tokenservice is the TokenIssuer adapter for an OAuth2 token
// service: it asks for client-credentials tokens (RFC 6749 §4.4) over HTTP
// and reports every failure as a *domain.TokenServiceError of the right
// kind.
//
// It speaks the protocol with net/http rather than golang.org/x/oauth2
// because the core needs what x/oauth2 hides: a timeout told apart from an
// unreachable server, a body that is not a token told apart from a server
// that said no, Retry-After, a bound on the body size, and a token lifetime
// read from the JWT when the server leaves out expires_in.
//
// Each service may have a client of its own (Options.Services): its own
// token endpoint, client id, credentials, scope, audience and timeout.
// Clients authenticate with client_secret_basic, client_secret_post or
// private_key_jwt (RFC 7523). A client whose request the token service has
// just refused for good (invalid_client, unauthorized_client,
// invalid_scope, invalid_request, invalid_grant, unsupported_grant_type)
// is not sent again for a while (the negative cache), so that a
// misconfigured client cannot hammer the token service.
package tokenservice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/internal/redact"
	"github.com/jwtcache/jwtcache/ports"
)

// Defaults applied by New to zero Options fields.
const (
	// DefaultGrantType is the RFC 6749 §4.4 grant.
	DefaultGrantType = "client_credentials"
	// DefaultTimeout bounds one token request, connection to last body byte.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBodyBytes bounds the response body read; a token response
	// is a few KiB at most.
	DefaultMaxBodyBytes int64 = 64 << 10
	// DefaultNegativeCache is how long a definitive refusal
	// (invalid_client, invalid_scope, ...) is repeated without asking
	// again.
	DefaultNegativeCache = 30 * time.Second
)

// Client authentication methods (RFC 6749 §2.3.1, RFC 7523 §2.2), named as
// in the RFC 8414 token_endpoint_auth_methods_supported registry.
const (
	// AuthClientSecretBasic sends the client id and secret in an HTTP Basic
	// Authorization header, each form-url-encoded first.
	AuthClientSecretBasic = "client_secret_basic"
	// AuthClientSecretPost sends client_id and client_secret in the form.
	AuthClientSecretPost = "client_secret_post"
	// AuthPrivateKeyJWT sends client_id and a client_assertion, a short-lived
	// JWT signed with the client's private key (RFC 7523 §2.2, OpenID
	// Connect Core §9). No secret travels.
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Options configures an Issuer: the default client, which every service
// uses unless Services gives it its own, and what all clients share. URL
// and ClientID are required; every other field is optional and has a
// default.
type Options struct {
	// URL is the token endpoint, an absolute http or https URL. Required.
	URL string
	// ClientID identifies jwtcache to the token service. Required.
	ClientID string
	// ClientSecret authenticates the client with the client_secret_*
	// methods. Optional (private_key_jwt needs none, and an HTTPClient
	// doing mutual TLS may not either), but normally set.
	ClientSecret string
	// Scope is the space-separated scope requested; sent only if non-empty.
	Scope string
	// GrantType is sent as grant_type; default DefaultGrantType.
	GrantType string
	// AuthMethod is AuthClientSecretBasic, AuthClientSecretPost or
	// AuthPrivateKeyJWT. Default: AuthPrivateKeyJWT when PrivateKeyFile is
	// set, else AuthClientSecretBasic.
	AuthMethod string
	// PrivateKeyFile is a PEM file holding the unencrypted private key that
	// signs private_key_jwt assertions: PKCS#8, PKCS#1 (RSA) or SEC1 (EC
	// P-256). Required for AuthPrivateKeyJWT. New reads it once.
	PrivateKeyFile string
	// KeyID, if set, is the assertions' kid header.
	KeyID string
	// SigningAlg is SigningRS256 or SigningES256; default the key's own
	// (RS256 for RSA, ES256 for EC P-256).
	SigningAlg string
	// Audience, if set, is sent both as `audience` (the parameter Auth0 and
	// others use) and as the RFC 8707 `resource` indicator.
	Audience string
	// Timeout bounds each token request; default DefaultTimeout.
	Timeout time.Duration
	// ClientSecretFile, IssuerURL, ClientCertFile and ClientCertKeyFile
	// are as in ClientOptions, for the default client.
	ClientSecretFile  string
	IssuerURL         string
	ClientCertFile    string
	ClientCertKeyFile string

	// Services gives some services a client of their own, by service name.
	// Optional; see ClientOptions for how an override combines with the
	// fields above.
	Services map[string]ClientOptions
	// Strict refuses every service not in Services: Issue returns an error
	// wrapping domain.ErrUnknownService without any request.
	Strict bool
	// NegativeCache is how long a client's definitive refusal
	// (invalid_client, unauthorized_client, invalid_scope,
	// invalid_request, invalid_grant, unsupported_grant_type) is
	// remembered: meanwhile Issue returns a
	// copy of it (wrapping ErrCachedRejection) without asking the token
	// service, so that a misconfigured client cannot hammer it. Default
	// DefaultNegativeCache; negative turns it off.
	NegativeCache time.Duration

	// MinTokenLifetime is the least a new token must have left when it
	// arrives; a token that leaves less (an exp in the past, or just
	// ahead, while expires_in promised an hour) is refused as a
	// BadResponse error wrapping ErrDeadToken and never returned. For a
	// token whose expires_in is shorter than four times this, the bar is a
	// quarter of expires_in. Default DefaultMinTokenLifetime; negative
	// refuses only tokens already expired.
	MinTokenLifetime time.Duration

	// MaxBodyBytes bounds the response body; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// HTTPClient sends the requests. Optional; the default client does not
	// follow redirects, so that a misconfigured URL shows up as an error
	// instead of a POST silently turned into a GET elsewhere.
	HTTPClient *http.Client
	// Clock stamps IssuedAt and the assertions, and times the negative
	// cache. Optional; default the system clock.
	Clock ports.Clock

	// Reach holds what the clients share to reach their token services:
	// trusted CAs, credential file checks, discovery. Optional.
	Reach

	// TracerProvider, when not nil, traces every token request: a client
	// span ("POST /oauth/token"), a child of the span in Issue's context
	// if there is one, whose W3C traceparent is sent to the token service.
	// Optional; nil traces nothing and sends no trace headers.
	TracerProvider trace.TracerProvider
}

// ClientOptions is one service's client. Every field is optional: an empty
// one takes the value of the same Options field, except for credentials,
// which stay with the client they belong to:
//
//   - ClientSecret and PrivateKeyFile are inherited together or not at
//     all: a service that sets either uses only its own.
//   - KeyID and SigningAlg go with the key: inherited only with the
//     default PrivateKeyFile, and only settable with a PrivateKeyFile of
//     the service's own.
//   - A service whose URL or ClientID differs from the default must bring
//     its own ClientSecret or PrivateKeyFile (when the default client has
//     any credentials): the default client's are never sent to another
//     token endpoint or on behalf of another client.
//   - An empty AuthMethod is the default client's when the credentials are
//     inherited; with the service's own, AuthPrivateKeyJWT for a key alone,
//     otherwise the default's if it is a client_secret_* method, else
//     AuthClientSecretBasic.
type ClientOptions struct {
	URL            string
	ClientID       string
	ClientSecret   string
	AuthMethod     string
	PrivateKeyFile string
	KeyID          string
	SigningAlg     string
	Scope          string
	Audience       string
	GrantType      string
	Timeout        time.Duration
	// ClientSecretFile holds the client secret instead of ClientSecret,
	// read again when it changes (see package credfile); it goes with the
	// credentials like ClientSecret.
	ClientSecretFile string
	// IssuerURL, instead of URL, is the authorization server whose
	// discovery document names the token endpoint and the authentication
	// methods it supports (see Reach).
	IssuerURL string
	// ClientCertFile and ClientCertKeyFile are a PEM client certificate
	// (chain) and its unencrypted key, presented in the TLS handshake with
	// the token service (RFC 8705) and read again when they change; both
	// or neither. They go with the credentials like ClientSecret.
	ClientCertFile    string
	ClientCertKeyFile string
}

// Issuer obtains tokens from OAuth2 token services with the client
// credentials grant. It is safe for concurrent use.
type Issuer struct {
	maxBody  int64
	http     *http.Client
	clock    ports.Clock
	strict   bool
	negative time.Duration
	life     *lifeCheck
	// tracer is nil when Options.TracerProvider is.
	tracer trace.Tracer
	// def is the client of every service not in services.
	def *client
	// services holds the clients of Options.Services. Read-only after New.
	services map[string]*client
	// reach holds the credential files and discovery documents the
	// clients share, and what stops their background work.
	reach *reach
}

var _ ports.TokenIssuer = (*Issuer)(nil)

// New checks opts, reads the private keys it names and returns an Issuer.
// Its errors name the offending field (and service, and key file), and
// never contain a client secret or any part of a key.
func New(opts Options) (*Issuer, error) {
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("tokenservice: max body bytes %d is negative", opts.MaxBodyBytes)
	}
	i := &Issuer{
		maxBody:  cmp.Or(opts.MaxBodyBytes, DefaultMaxBodyBytes),
		http:     opts.HTTPClient,
		clock:    opts.Clock,
		strict:   opts.Strict,
		negative: cmp.Or(opts.NegativeCache, DefaultNegativeCache),
		life:     &lifeCheck{min: max(cmp.Or(opts.MinTokenLifetime, DefaultMinTokenLifetime), 0), log: cmp.Or(opts.Logger, slog.Default())},
	}
	if i.clock == nil {
		i.clock = ports.SystemClock
	}
	if opts.TracerProvider != nil {
		i.tracer = opts.TracerProvider.Tracer(instrumentationName)
	}

	def := opts.defaultClient()
	if def.AuthMethod == "" && def.IssuerURL == "" {
		def.AuthMethod = def.possibleMethods()[0]
	}
	r, err := newReach(opts, i.clock)
	if err != nil {
		return nil, fmt.Errorf("tokenservice: %w", err)
	}
	i.reach = r
	if opts.HTTPClient == nil {
		i.http = r.httpClient(nil)
	}
	if i.def, err = newClient(def, r); err != nil {
		r.close()
		return nil, fmt.Errorf("tokenservice: %w", err)
	}
	i.services = make(map[string]*client, len(opts.Services))
	for _, name := range slices.Sorted(maps.Keys(opts.Services)) {
		if err := domain.ValidateServiceName(name); err != nil {
			r.close()
			return nil, fmt.Errorf("tokenservice: Services: %w", err)
		}
		merged, err := def.merge(opts.Services[name])
		if err == nil {
			i.services[name], err = newClient(merged, r)
		}
		if err != nil {
			r.close()
			return nil, fmt.Errorf("tokenservice: service %q: %w", name, err)
		}
	}
	if err := r.start(); err != nil {
		r.close()
		return nil, fmt.Errorf("tokenservice: %w", err)
	}
	return i, nil
}

// defaultClient is the default client's part of o.
func (o Options) defaultClient() ClientOptions {
	return ClientOptions{
		URL: o.URL, ClientID: o.ClientID, ClientSecret: o.ClientSecret, AuthMethod: o.AuthMethod,
		PrivateKeyFile: o.PrivateKeyFile, KeyID: o.KeyID, SigningAlg: o.SigningAlg,
		Scope: o.Scope, Audience: o.Audience, GrantType: o.GrantType, Timeout: o.Timeout,
		ClientSecretFile: o.ClientSecretFile, IssuerURL: o.IssuerURL,
		ClientCertFile: o.ClientCertFile, ClientCertKeyFile: o.ClientCertKeyFile,
	}
}

// merge is svc completed from def, the default client, by the rules of
// ClientOptions.
func (def ClientOptions) merge(svc ClientOptions) (ClientOptions, error) {
	out := svc
	ownCreds := svc.hasCredentials()
	elsewhere := (svc.URL != "" && svc.URL != def.URL) || (svc.IssuerURL != "" && svc.IssuerURL != def.IssuerURL) ||
		(svc.ClientID != "" && svc.ClientID != def.ClientID)
	if svc.URL == "" && svc.IssuerURL == "" {
		out.URL, out.IssuerURL = def.URL, def.IssuerURL
	}
	switch {
	case ownCreds:
		if svc.AuthMethod == "" && out.IssuerURL == "" {
			switch m := svc.possibleMethods(); {
			case m[0] != AuthClientSecretBasic:
				out.AuthMethod = m[0]
			case def.AuthMethod == AuthClientSecretBasic || def.AuthMethod == AuthClientSecretPost:
				out.AuthMethod = def.AuthMethod
			default:
				out.AuthMethod = AuthClientSecretBasic
			}
		}
	case elsewhere && def.hasCredentials():
		return ClientOptions{}, errors.New("its URL or client id differs from the default client's, so it needs a client secret or private key file of its own: " +
			"the default client's credentials are never sent to another token endpoint or for another client")
	case svc.KeyID != "" || svc.SigningAlg != "":
		return ClientOptions{}, errors.New("a key id or signing algorithm needs a private key file of the service's own")
	default:
		out.ClientSecret, out.PrivateKeyFile, out.KeyID, out.SigningAlg = def.ClientSecret, def.PrivateKeyFile, def.KeyID, def.SigningAlg
		out.ClientSecretFile, out.ClientCertFile, out.ClientCertKeyFile = def.ClientSecretFile, def.ClientCertFile, def.ClientCertKeyFile
		out.AuthMethod = cmp.Or(svc.AuthMethod, def.AuthMethod)
	}
	out.ClientID = cmp.Or(svc.ClientID, def.ClientID)
	out.Scope = cmp.Or(svc.Scope, def.Scope)
	out.Audience = cmp.Or(svc.Audience, def.Audience)
	out.GrantType = cmp.Or(svc.GrantType, def.GrantType)
	out.Timeout = cmp.Or(svc.Timeout, def.Timeout)
	return out, nil
}

// clientFor is the client that asks for service's tokens: its own, else
// the default one, unless the issuer is strict.
func (i *Issuer) clientFor(service string) (*client, error) {
	if c, ok := i.services[service]; ok {
		return c, nil
	}
	if i.strict {
		return nil, fmt.Errorf("tokenservice: service %q has no client configured: %w", service, domain.ErrUnknownService)
	}
	return i.def, nil
}

// Issue makes one token request for service.
//
// The token's IssuedAt is the instant the request started, not the instant
// the answer arrived: expires_in counts from when the server issued the
// token, which is somewhere in between, so counting from the start never
// puts the expiry later than the server meant. A JWT's exp claim, written
// in whole seconds and so often a little earlier still, wins when it is
// earlier: that is the instant resource servers check. A token that then
// leaves less than Options.MinTokenLifetime is refused (ErrDeadToken).
//
// A failure is a *domain.TokenServiceError with Service set, except when
// ctx is cancelled: then the error wraps ctx.Err() (errors.Is(err,
// context.Canceled) holds); and except for a service a strict issuer does
// not know: then it wraps domain.ErrUnknownService and no request is made.
// A deadline, ctx's or the client's timeout, is a Timeout error that wraps
// context.DeadlineExceeded. While the token service's definitive refusal
// of the client is remembered (see
// Options.NegativeCache), Issue returns a copy of it for service, wrapping
// ErrCachedRejection, and makes no request.
func (i *Issuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	c, err := i.clientFor(service)
	if err != nil {
		return domain.Token{}, err
	}
	gen := c.credentialGeneration()
	if err := c.rejection(service, i.clock.Now(), gen); err != nil {
		return domain.Token{}, err
	}
	ctx, span := i.startSpan(ctx, c, service)
	tok, assertion, err := i.issue(ctx, c, service, span)
	if err != nil && c.reloadAfterRefusal(err, gen) {
		gen = c.credentialGeneration()
		tok, assertion, err = i.issue(ctx, c, service, span)
	}
	if err != nil {
		err = c.finish(err, assertion)
		c.remember(err, i.clock.Now(), i.negative, gen)
	}
	endSpan(span, err)
	if err != nil {
		return domain.Token{}, err
	}
	return tok, nil
}

// issue makes the request. It returns the client assertion it sent, if
// any, so that Issue can keep it out of the error too.
func (i *Issuer) issue(ctx context.Context, c *client, service string, span trace.Span) (_ domain.Token, assertion string, _ error) {
	start := i.clock.Now()

	endpoint, err := c.tokenEndpoint()
	if err != nil {
		return domain.Token{}, "", &domain.TokenServiceError{Kind: domain.Unreachable, Service: service, Err: err}
	}
	body, assertion, err := c.form(start)
	if err != nil {
		// Signing failed: the key was checked in New, so this is not the
		// token service's fault, but it is why there is no token.
		return domain.Token{}, "", &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, Err: err}
	}
	reqCtx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		// The URL was validated in New; nothing else can fail here.
		return domain.Token{}, assertion, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.method() == AuthClientSecretBasic {
		// RFC 6749 §2.3.1: the id and secret are form-url-encoded before
		// they are joined with ':', so that a ':' or '%' in them survives.
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.currentSecret()))
	}
	inject(span, req)

	resp, err := i.httpFor(c).Do(req)
	if err != nil {
		return domain.Token{}, assertion, transportError(ctx, reqCtx, service, err)
	}
	answered(span, resp.StatusCode)
	defer resp.Body.Close()
	respBody, err := readLimited(resp.Body, i.maxBody)
	if err != nil && !errors.Is(err, ErrBodyTooLarge) {
		return domain.Token{}, assertion, transportError(ctx, reqCtx, service, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return domain.Token{}, assertion, errorResponse(service, resp, respBody, err, i.clock.Now())
	}
	if err != nil {
		return domain.Token{}, assertion, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, HTTPStatus: resp.StatusCode, Err: err}
	}
	tok, promised, err := parseToken(respBody, c.scope, start)
	if err == nil {
		err = i.life.check(service, tok, promised, i.clock.Now())
	}
	if err != nil {
		var tse *domain.TokenServiceError
		if errors.As(err, &tse) {
			tse.Service, tse.HTTPStatus = service, resp.StatusCode
			return domain.Token{}, assertion, tse
		}
		return domain.Token{}, assertion, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, HTTPStatus: resp.StatusCode, Err: err}
	}
	tok.BoundToCertificate = certificateBound(tok.AccessToken)
	return tok, assertion, nil
}

// readLimited reads r to its end, or returns ErrBodyTooLarge after max
// bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, fmt.Errorf("%w (limit %d bytes)", ErrBodyTooLarge, max)
	}
	return body, nil
}

// transportError classifies a failure to get an answer: the caller gave up
// (ctx cancelled), time ran out (Timeout), or the server could not be
// reached (Unreachable). The endpoint that net/http's error repeats is cut
// to scheme://host/path: its query may hold a secret, and the error
// reaches logs and /health.
func transportError(ctx, reqCtx context.Context, service string, err error) error {
	err = redact.URLError(err)
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("tokenservice: token request for service %q: %w", service, ctx.Err())
	}
	var ne net.Error
	timedOut := errors.Is(reqCtx.Err(), context.DeadlineExceeded) ||
		errors.Is(err, context.DeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
	if timedOut {
		if !errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: %w", context.DeadlineExceeded, err)
		}
		return &domain.TokenServiceError{Kind: domain.Timeout, Service: service, Err: err}
	}
	return &domain.TokenServiceError{Kind: domain.Unreachable, Service: service, Err: err}
}

// errorResponse classifies a non-2xx answer: Unreachable for a 429 (the
// token service asks us to wait: unavailable for now, with its
// Retry-After; an RFC 6749 code such as slow_down is kept), else Rejected
// when it carries an RFC 6749 §5.2 error body, BadResponse otherwise.
// readErr is ErrBodyTooLarge or nil.
func errorResponse(service string, resp *http.Response, body []byte, readErr error, now time.Time) error {
	e := &domain.TokenServiceError{
		Kind:       domain.BadResponse,
		Service:    service,
		HTTPStatus: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Err:        readErr,
	}
	tooMany := resp.StatusCode == http.StatusTooManyRequests
	if tooMany {
		e.Kind = domain.Unreachable
	}
	if readErr != nil {
		return e
	}
	if code, desc, ok := parseOAuthError(body); ok {
		e.Code, e.Description = code, desc
		if !tooMany {
			e.Kind = domain.Rejected
		}
		return e
	}
	e.Err = ErrUnexpectedStatus
	if tooMany {
		e.Err = ErrTooManyRequests
	}
	return e
}

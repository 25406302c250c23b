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
package tokenservice

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/domain"
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
)

// Client authentication methods (RFC 6749 §2.3.1), named as in the RFC 8414
// token_endpoint_auth_methods_supported registry.
const (
	// AuthClientSecretBasic sends the client id and secret in an HTTP Basic
	// Authorization header, each form-url-encoded first.
	AuthClientSecretBasic = "client_secret_basic"
	// AuthClientSecretPost sends client_id and client_secret in the form.
	AuthClientSecretPost = "client_secret_post"
)

// Options configures an Issuer. URL and ClientID are required; every other
// field is optional and has a default.
type Options struct {
	// URL is the token endpoint, an absolute http or https URL. Required.
	URL string
	// ClientID identifies jwtcache to the token service. Required.
	ClientID string
	// ClientSecret authenticates the client. Optional (an HTTPClient doing
	// mutual TLS may not need one), but normally set.
	ClientSecret string
	// Scope is the space-separated scope requested; sent only if non-empty.
	Scope string
	// GrantType is sent as grant_type; default DefaultGrantType.
	GrantType string
	// AuthMethod is AuthClientSecretBasic (the default) or
	// AuthClientSecretPost.
	AuthMethod string
	// Audience, if set, is sent both as `audience` (the parameter Auth0 and
	// others use) and as the RFC 8707 `resource` indicator.
	Audience string
	// Timeout bounds each token request; default DefaultTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds the response body; default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// HTTPClient sends the requests. Optional; the default client does not
	// follow redirects, so that a misconfigured URL shows up as an error
	// instead of a POST silently turned into a GET elsewhere.
	HTTPClient *http.Client
	// Clock stamps IssuedAt. Optional; default the system clock.
	Clock ports.Clock
}

// Issuer obtains tokens from an OAuth2 token service with the client
// credentials grant. It is safe for concurrent use.
type Issuer struct {
	endpoint string
	grant    string
	timeout  time.Duration
	maxBody  int64
	http     *http.Client
	clock    ports.Clock
	// def is the client every service uses. It is a separate value, reached
	// only through clientFor, so that per-service clients can be added as a
	// lookup there without touching the request code.
	def client
}

var _ ports.TokenIssuer = (*Issuer)(nil)

// client is who asks for a token and for what.
type client struct {
	id, secret string
	authMethod string
	scope      string
	audience   string
}

// New checks opts and returns an Issuer. Its errors name the offending
// field and never contain the client secret.
func New(opts Options) (*Issuer, error) {
	u, err := url.Parse(opts.URL)
	switch {
	case opts.URL == "":
		return nil, errors.New("tokenservice: token service URL is empty")
	case err != nil:
		// url.Parse errors quote the input, which might be a secret
		// pasted into the wrong field: say only that it does not parse.
		return nil, errors.New("tokenservice: token service URL does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("tokenservice: token service URL must be absolute http or https, got scheme %q", u.Scheme)
	case u.Host == "":
		return nil, errors.New("tokenservice: token service URL has no host")
	case u.User != nil:
		return nil, errors.New("tokenservice: token service URL must not hold credentials; use the client id and secret")
	case u.Fragment != "":
		// RFC 6749 §3.2.
		return nil, errors.New("tokenservice: token service URL must not have a fragment")
	}
	if strings.TrimSpace(opts.ClientID) == "" {
		return nil, errors.New("tokenservice: client id is empty")
	}
	auth := opts.AuthMethod
	switch auth {
	case "":
		auth = AuthClientSecretBasic
	case AuthClientSecretBasic, AuthClientSecretPost:
	default:
		return nil, fmt.Errorf("tokenservice: auth method %q is not %s or %s", auth, AuthClientSecretBasic, AuthClientSecretPost)
	}
	if opts.Timeout < 0 {
		return nil, fmt.Errorf("tokenservice: timeout %v is negative", opts.Timeout)
	}
	if opts.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("tokenservice: max body bytes %d is negative", opts.MaxBodyBytes)
	}
	i := &Issuer{
		endpoint: u.String(),
		grant:    opts.GrantType,
		timeout:  opts.Timeout,
		maxBody:  opts.MaxBodyBytes,
		http:     opts.HTTPClient,
		clock:    opts.Clock,
		def: client{
			id:         opts.ClientID,
			secret:     opts.ClientSecret,
			authMethod: auth,
			scope:      opts.Scope,
			audience:   opts.Audience,
		},
	}
	if i.grant == "" {
		i.grant = DefaultGrantType
	}
	if i.timeout == 0 {
		i.timeout = DefaultTimeout
	}
	if i.maxBody == 0 {
		i.maxBody = DefaultMaxBodyBytes
	}
	if i.http == nil {
		i.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}}
	}
	if i.clock == nil {
		i.clock = systemClock{}
	}
	return i, nil
}

// clientFor is the client that asks for service's tokens.
func (i *Issuer) clientFor(string) *client { return &i.def }

// Issue makes one token request for service.
//
// The token's IssuedAt is the instant the request started, not the instant
// the answer arrived: expires_in counts from when the server issued the
// token, which is somewhere in between, so counting from the start can only
// make jwtcache think the token expires earlier than it does, never later.
//
// A failure is a *domain.TokenServiceError with Service set, except when
// ctx is cancelled: then the error wraps ctx.Err() (errors.Is(err,
// context.Canceled) holds). A deadline, ctx's or Options.Timeout, is a
// Timeout error that wraps context.DeadlineExceeded.
func (i *Issuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	c := i.clientFor(service)
	tok, err := i.issue(ctx, c, service)
	if err != nil {
		return domain.Token{}, c.finish(err)
	}
	return tok, nil
}

func (i *Issuer) issue(ctx context.Context, c *client, service string) (domain.Token, error) {
	start := i.clock.Now()

	reqCtx, cancel := context.WithTimeout(ctx, i.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(reqCtx, http.MethodPost, i.endpoint, strings.NewReader(c.form(i.grant)))
	if err != nil {
		// The URL was validated in New; nothing else can fail here.
		return domain.Token{}, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, Err: err}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.authMethod == AuthClientSecretBasic {
		// RFC 6749 §2.3.1: the id and secret are form-url-encoded before
		// they are joined with ':', so that a ':' or '%' in them survives.
		req.SetBasicAuth(url.QueryEscape(c.id), url.QueryEscape(c.secret))
	}

	resp, err := i.http.Do(req)
	if err != nil {
		return domain.Token{}, transportError(ctx, reqCtx, service, err)
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, i.maxBody)
	if err != nil && !errors.Is(err, ErrBodyTooLarge) {
		return domain.Token{}, transportError(ctx, reqCtx, service, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return domain.Token{}, errorResponse(service, resp, body, err, i.clock.Now())
	}
	if err != nil {
		return domain.Token{}, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, HTTPStatus: resp.StatusCode, Err: err}
	}
	tok, err := parseToken(body, c.scope, start)
	if err != nil {
		var tse *domain.TokenServiceError
		if errors.As(err, &tse) {
			tse.Service, tse.HTTPStatus = service, resp.StatusCode
			return domain.Token{}, tse
		}
		return domain.Token{}, &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, HTTPStatus: resp.StatusCode, Err: err}
	}
	return tok, nil
}

// finish readies the server-supplied text of err for an error message: c's
// secret removed (a server that echoes the request into error_description
// must not put it into jwtcache's logs), then shortened. Redacting before
// shortening is what keeps a cut from leaving half a secret behind.
func (c *client) finish(err error) error {
	var tse *domain.TokenServiceError
	if !errors.As(err, &tse) {
		return err
	}
	if c.secret != "" {
		r := strings.NewReplacer(c.secret, "[redacted]", url.QueryEscape(c.secret), "[redacted]")
		tse.Code, tse.Description = r.Replace(tse.Code), r.Replace(tse.Description)
	}
	tse.Code = truncate(tse.Code, maxCodeLen)
	tse.Description = truncate(tse.Description, maxDescriptionLen)
	return err
}

// form is the request body. Only parameters with a value are sent: an empty
// scope= is not the same as no scope to every server.
func (c *client) form(grant string) string {
	v := url.Values{"grant_type": {grant}}
	if c.scope != "" {
		v.Set("scope", c.scope)
	}
	if c.audience != "" {
		v.Set("audience", c.audience)
		v.Set("resource", c.audience)
	}
	if c.authMethod == AuthClientSecretPost {
		v.Set("client_id", c.id)
		if c.secret != "" {
			v.Set("client_secret", c.secret)
		}
	}
	return v.Encode()
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
// reached (Unreachable).
func transportError(ctx, reqCtx context.Context, service string, err error) error {
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

// errorResponse classifies a non-2xx answer: Rejected when it carries an
// RFC 6749 §5.2 error body, BadResponse otherwise. readErr is
// ErrBodyTooLarge or nil.
func errorResponse(service string, resp *http.Response, body []byte, readErr error, now time.Time) error {
	e := &domain.TokenServiceError{
		Kind:       domain.BadResponse,
		Service:    service,
		HTTPStatus: resp.StatusCode,
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), now),
		Err:        readErr,
	}
	if readErr != nil {
		return e
	}
	if code, desc, ok := parseOAuthError(body); ok {
		e.Kind, e.Code, e.Description = domain.Rejected, code, desc
		return e
	}
	e.Err = ErrUnexpectedStatus
	return e
}

// systemClock is the wall clock; adapters do not import each other, so the
// issuer carries its own.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

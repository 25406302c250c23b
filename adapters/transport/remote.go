package transport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// Defaults applied by NewRemote to zero RemoteOptions fields.
const (
	// DefaultRemoteTimeout bounds one request to the jwtcache server.
	DefaultRemoteTimeout = 10 * time.Second
	// DefaultRemoteMaxBodyBytes bounds a response body read.
	DefaultRemoteMaxBodyBytes int64 = 64 << 10
)

// APIKeyHeader is the header a Remote sends its API key in.
const APIKeyHeader = "X-API-Key"

var (
	_ Source       = (*Remote)(nil)
	_ BearerSource = (*Remote)(nil)
)

// RemoteOptions configures a Remote. Every field is optional.
type RemoteOptions struct {
	// HTTPClient sends the requests. Optional: a client over
	// http.DefaultTransport that does not follow redirects, so that the API
	// key is never sent anywhere but the configured server. It must not use
	// a Transport whose Source is this Remote.
	HTTPClient *http.Client
	// APIKey, if set, is sent in the X-API-Key header of every request.
	APIKey string
	// Timeout bounds each request to the server. Optional:
	// DefaultRemoteTimeout.
	Timeout time.Duration
	// MaxBodyBytes bounds a response body. Optional:
	// DefaultRemoteMaxBodyBytes.
	MaxBodyBytes int64
	// Clock tells when a kept token is due. Optional: the system clock.
	Clock ports.Clock
	// Logger receives a line when a kept token is served because the
	// server could not be reached; never a token. Optional: slog.Default().
	Logger *slog.Logger
}

// Remote is a Source that gets tokens from a jwtcache server over the
// guide's REST API, for programs that run jwtcache as a sidecar or share
// one instance: GET /api/v1/jwt/token/{serviceName} for Token, POST
// /api/v1/jwt/refresh/{serviceName} for Refresh.
//
// It keeps each token it gets until that token's cacheExpiresAt as the
// server reported it, so that signing a request costs no round trip while
// the token is fresh; concurrent callers that find no fresh token share one
// request. It renews nothing in the background: the server does that, and
// the Remote asks it again once its copy is due. While the server cannot be
// reached (no answer or a 5xx), a kept token that has not expired is still
// served. Refresh drops the kept token and keeps the one the server
// returns.
//
// The server is the authority on service names: Remote sends the name as
// the caller gave it (path-escaped), and the server's 400 comes back as a
// *RemoteError matching domain.ErrInvalidServiceName.
//
// Its near cache is its own rather than an *app.Cache over the REST API:
// the server already renews, so the core's background renewal would only
// add requests; the core's Refresh asks its issuer again where Remote must
// POST to the refresh endpoint; the server, not the client, decides about
// names and reports when a token stops being fresh; and the core needs a
// Close and would link the renewal engine into every sidecar client. What
// the two share is the REST contract (adapters/rest/restapi) and the
// domain's token rules.
//
// A Remote is safe for concurrent use.
type Remote struct {
	base    string // the server's URL without a trailing slash
	apiKey  string
	http    *http.Client
	timeout time.Duration
	maxBody int64
	clock   ports.Clock
	log     *slog.Logger

	// kept is replaced, never modified, so that a hit is an atomic load and
	// a map lookup, allocation-free and without a lock.
	kept atomic.Pointer[map[string]*remoteToken]
	mu   sync.Mutex // serialises replacements of kept, and gen
	// gen counts Refresh calls; a fetch started before one does not keep
	// its (maybe older) token. Guarded by mu.
	gen uint64

	fetches   singleflight.Group // key: service name
	refreshes singleflight.Group // key: service name
}

// remoteToken is an immutable kept token.
type remoteToken struct {
	tok            domain.Token
	header         string
	cacheExpiresAt time.Time
}

// NewRemote returns a Remote for the jwtcache server at baseURL, its
// scheme, host and port and any path prefix the API sits under
// ("http://127.0.0.1:8080"). Its errors never contain the API key.
func NewRemote(baseURL string, opts RemoteOptions) (*Remote, error) {
	u, err := url.Parse(baseURL)
	switch {
	case baseURL == "":
		return nil, errors.New("transport: remote: base URL is empty")
	case err != nil:
		return nil, errors.New("transport: remote: base URL does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("transport: remote: base URL must be absolute http or https, got scheme %q", u.Scheme)
	case u.Host == "":
		return nil, errors.New("transport: remote: base URL has no host")
	case u.User != nil:
		return nil, errors.New("transport: remote: base URL must not hold credentials; use RemoteOptions.APIKey")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, errors.New("transport: remote: base URL must not have a query or a fragment")
	case opts.Timeout < 0 || opts.MaxBodyBytes < 0:
		return nil, errors.New("transport: remote: Timeout and MaxBodyBytes must not be negative")
	}
	r := &Remote{
		base:    strings.TrimRight(baseURL, "/"),
		apiKey:  opts.APIKey,
		http:    opts.HTTPClient,
		timeout: opts.Timeout,
		maxBody: opts.MaxBodyBytes,
		clock:   opts.Clock,
		log:     opts.Logger,
	}
	if r.http == nil {
		r.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if r.timeout == 0 {
		r.timeout = DefaultRemoteTimeout
	}
	if r.maxBody == 0 {
		r.maxBody = DefaultRemoteMaxBodyBytes
	}
	if r.clock == nil {
		r.clock = ports.SystemClock
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	r.kept.Store(&map[string]*remoteToken{})
	return r, nil
}

// Token returns service's token: the kept one while it is fresh, else the
// server's.
func (r *Remote) Token(ctx context.Context, service string) (domain.Token, error) {
	k, err := r.get(ctx, service)
	if err != nil {
		return domain.Token{}, err
	}
	return k.tok, nil
}

// BearerToken is Token's Authorization header value, "Bearer <token>"; a
// fresh kept token costs no allocation.
func (r *Remote) BearerToken(ctx context.Context, service string) (string, error) {
	k, err := r.get(ctx, service)
	if err != nil {
		return "", err
	}
	return k.header, nil
}

// Refresh asks the server for a new token for service, whatever it and the
// Remote hold. Concurrent refreshes of one service share one request.
func (r *Remote) Refresh(ctx context.Context, service string) (domain.Token, error) {
	r.drop(service)
	ch := r.refreshes.DoChan(service, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		k, err := r.call(ctx, http.MethodPost, restapi.RefreshPath, service)
		if err != nil {
			return nil, err
		}
		r.keep(service, k, 0, true)
		return k, nil
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return domain.Token{}, res.Err
		}
		return res.Val.(*remoteToken).tok, nil
	case <-ctx.Done():
		return domain.Token{}, ctx.Err()
	}
}

func (r *Remote) get(ctx context.Context, service string) (*remoteToken, error) {
	if k := (*r.kept.Load())[service]; k != nil && r.clock.Now().Before(k.cacheExpiresAt) {
		return k, nil
	}
	ch := r.fetches.DoChan(service, func() (any, error) {
		// Shared by every caller waiting for it, so not cancelled by the
		// first one leaving; each waits only as long as its own ctx allows.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		return r.fetch(ctx, service)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*remoteToken), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (r *Remote) fetch(ctx context.Context, service string) (*remoteToken, error) {
	r.mu.Lock()
	gen := r.gen
	r.mu.Unlock()
	// Another caller's fetch may have finished while this one queued.
	old := (*r.kept.Load())[service]
	if old != nil && r.clock.Now().Before(old.cacheExpiresAt) {
		return old, nil
	}
	k, err := r.call(ctx, http.MethodGet, restapi.TokenPath, service)
	if err != nil {
		if old != nil && unavailable(err) && !old.tok.Expired(r.clock.Now()) {
			r.log.Warn("transport: jwtcache server unavailable; serving the kept token until it expires",
				"service", service, "expiresAt", old.tok.ExpiresAt, "err", err)
			return old, nil
		}
		return nil, err
	}
	r.keep(service, k, gen, false)
	return k, nil
}

// keep makes k service's kept token. Unless force is set, it does so only
// if no Refresh began since gen was read.
func (r *Remote) keep(service string, k *remoteToken, gen uint64, force bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if force {
		r.gen++
	} else if r.gen != gen {
		return
	}
	old := *r.kept.Load()
	m := make(map[string]*remoteToken, len(old)+1)
	for s, v := range old {
		m[s] = v
	}
	m[service] = k
	r.kept.Store(&m)
}

// drop forgets service's kept token and stops fetches in flight from
// keeping theirs.
func (r *Remote) drop(service string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	old := *r.kept.Load()
	if _, ok := old[service]; !ok {
		return
	}
	m := make(map[string]*remoteToken, len(old))
	for s, v := range old {
		if s != service {
			m[s] = v
		}
	}
	r.kept.Store(&m)
}

// unavailable reports whether err means the server could not answer, as
// opposed to answering no.
func unavailable(err error) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Status >= 500
	}
	return true
}

// call makes one request to endpoint (a restapi path) for service and
// returns the token the server answered.
func (r *Remote) call(ctx context.Context, method, endpoint, service string) (*remoteToken, error) {
	req, err := http.NewRequestWithContext(ctx, method, r.base+restapi.ServicePath(endpoint, service), nil)
	if err != nil {
		return nil, fmt.Errorf("transport: remote: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if r.apiKey != "" {
		req.Header.Set(APIKeyHeader, r.apiKey)
	}
	start := r.clock.Now()
	resp, err := r.http.Do(req)
	if err != nil {
		// A *url.Error names the method and URL: the server's address and
		// the service, nothing secret.
		return nil, fmt.Errorf("transport: remote: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, r.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("transport: remote: reading the answer for service %q: %w", restapi.Clip(service), err)
	}
	tooLarge := int64(len(body)) > r.maxBody
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, remoteError(resp.StatusCode, body, tooLarge, service)
	}
	if tooLarge {
		return nil, fmt.Errorf("transport: remote: token answer for service %q is larger than %d bytes", restapi.Clip(service), r.maxBody)
	}
	return parseToken(body, service, start)
}

// parseToken reads a token answer. Its errors never repeat the body, which
// holds the token.
func parseToken(body []byte, service string, now time.Time) (*remoteToken, error) {
	var tr restapi.TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("transport: remote: token answer for service %q is not JSON", restapi.Clip(service))
		}
		return nil, fmt.Errorf("transport: remote: token answer for service %q has a malformed field", restapi.Clip(service))
	}
	switch {
	case tr.AccessToken == "":
		return nil, fmt.Errorf("transport: remote: token answer for service %q has no accessToken", restapi.Clip(service))
	case tr.ServiceName != "" && tr.ServiceName != service:
		return nil, fmt.Errorf("transport: remote: asked for service %q, got a token for %q", restapi.Clip(service), restapi.Clip(tr.ServiceName))
	}
	tok := domain.Token{
		AccessToken: tr.AccessToken,
		TokenType:   domain.NormalizeTokenType(tr.TokenType),
		Scope:       tr.Scope,
		IssuedAt:    tr.IssuedAt,
		ExpiresAt:   tr.ExpiresAt,
	}
	if tok.IssuedAt.IsZero() {
		tok.IssuedAt = now
	}
	if tok.ExpiresAt.IsZero() {
		if tr.ExpiresIn <= 0 {
			return nil, fmt.Errorf("transport: remote: token answer for service %q has no expiresAt or expiresIn", restapi.Clip(service))
		}
		tok.ExpiresAt = tok.IssuedAt.Add(time.Duration(tr.ExpiresIn) * time.Second)
	}
	cacheExp := tr.CacheExpiresAt
	if cacheExp.IsZero() {
		cacheExp = domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}.CacheExpiresAt(tok)
	}
	if cacheExp.After(tok.ExpiresAt) {
		cacheExp = tok.ExpiresAt
	}
	return &remoteToken{tok: tok, header: tok.AuthorizationHeader(), cacheExpiresAt: cacheExp}, nil
}

// RemoteError is a jwtcache server's error answer: its HTTP status and the
// fields of the guide's error JSON. It matches (errors.Is) the domain
// sentinel its code stands for: domain.ErrInvalidServiceName,
// domain.ErrUnknownService, domain.ErrClosed, domain.ErrTooManyServices or
// domain.ErrRateLimited.
type RemoteError struct {
	// Status is the HTTP status code.
	Status int
	// Code is the "error" field (invalid_service_name,
	// token_service_unavailable, ...), or "" if the answer was not the
	// guide's error JSON.
	Code string
	// Message is the "message" field, shortened, or the status text.
	Message string
	// Service is the service name the request was for.
	Service string
}

func (e *RemoteError) Error() string {
	msg := "remote jwtcache answered HTTP " + strconv.Itoa(e.Status)
	if e.Code != "" {
		msg += " " + e.Code
	}
	if e.Service != "" {
		msg += fmt.Sprintf(" for service %q", e.Service)
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Unwrap returns the domain sentinel error matching Code, or nil.
func (e *RemoteError) Unwrap() error {
	switch e.Code {
	case restapi.CodeInvalidServiceName:
		return domain.ErrInvalidServiceName
	case restapi.CodeUnknownService:
		return domain.ErrUnknownService
	case restapi.CodeShuttingDown:
		return domain.ErrClosed
	case restapi.CodeTooManyServices:
		return domain.ErrTooManyServices
	case restapi.CodeRateLimited:
		return domain.ErrRateLimited
	}
	return nil
}

// Temporary reports whether asking again later may succeed: the server or
// its token service was unavailable, slow or overloaded (429 or 5xx).
func (e *RemoteError) Temporary() bool {
	return e.Status == http.StatusTooManyRequests || (e.Status >= 500 && e.Status != http.StatusNotImplemented)
}

func remoteError(status int, body []byte, tooLarge bool, service string) *RemoteError {
	e := &RemoteError{Status: status, Service: restapi.Clip(service)}
	var er restapi.ErrorResponse
	if !tooLarge && json.Unmarshal(body, &er) == nil && er.Error != "" {
		e.Code, e.Message = restapi.Clip(er.Error), restapi.Clip(er.Message)
		if er.ServiceName != "" {
			e.Service = restapi.Clip(er.ServiceName)
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// DefaultMinRefreshInterval is Transport.MinRefreshInterval's default.
const DefaultMinRefreshInterval = 10 * time.Second

// maxDrain is how much of a 401 answer's body is read before the retry so
// that its connection can be reused; a longer body is cut off with its
// connection.
const maxDrain = 4 << 10

// ErrInsecureHTTP is the error, wrapped, of a request that would carry a
// token over plain http to a host that is not loopback, and was not sent.
var ErrInsecureHTTP = errors.New("a token is sent over plain http only to loopback hosts, unless Transport.AllowInsecureHTTP is set; use https")

// Transport is an http.RoundTripper that signs each request with the token
// of the service its host belongs to, the guide's JwtTokenInterceptor.
//
// A token goes only where the user allowed: the service is Hosts' entry
// for the request's host if there is one, else what Rule says, and Rule is
// asked only about hosts under Domains. With no Domains, only the hosts in
// Hosts are signed: whoever controls a URL the program fetches (a
// redirect, a webhook target, a link in data) could otherwise name a host
// like kyc-service.attacker.example and receive the kyc token. The host is
// the one the request is sent to, req.URL.Host, never req.Host: a token
// goes only where the connection goes. Requests to hosts that name no
// service, and requests that already carry an Authorization header (even
// an empty one), pass through untouched. The caller's request is never
// modified; a signed copy is sent.
//
// A token is sent over https, or over plain http to loopback (localhost,
// 127.0.0.0/8, ::1); a request that would carry one over plain http to any
// other host fails with ErrInsecureHTTP, unsent, unless AllowInsecureHTTP
// is set. A redirect is signed only while the redirect chain stays on the
// host and port it started at: http.Client strips the caller's own
// Authorization from cross-host redirects, and the Transport, which signs
// below http.Client, does not sign them either, whatever host they lead
// to.
//
// A signed request answered with 401 gets its token replaced: by the one
// the Source holds now if another request or a renewal has replaced it
// already, else by Source.Refresh, at most once per MinRefreshInterval per
// service (concurrent 401s share one refresh). The request is then sent
// once more with the new token if its body can be sent again (no body, or
// req.GetBody set, as http.NewRequest does for in-memory bodies); if not,
// or if the retry fails too, the caller gets the 401, and the caller's own
// retry will carry the new token. A request is never retried twice.
//
// If no token can be had, RoundTrip returns an error naming the service and
// the request is not sent.
//
// Set the fields before the first request and do not change them after:
// like http.Transport, a Transport is safe for concurrent use once in use,
// and must not be copied. The zero Transport, with Source set, is ready.
type Transport struct {
	// Source hands out the tokens. Required. If it also implements
	// BearerSource (*app.Cache and *Remote do), that is used.
	Source Source
	// Base sends the requests. Optional: http.DefaultTransport. It must not
	// be a client of the Source itself (a Remote's HTTPClient must not use
	// this Transport).
	Base http.RoundTripper
	// Hosts maps hosts to services and wins over Rule. Keys are host names
	// or IP addresses, matched without regard to case; a key without a port
	// matches every port, a key "host:port" only that port (and wins over
	// the key without). A key "*.company.com" matches every host under
	// company.com (not company.com itself), the longest such suffix
	// winning. A value of "" means "never sign", to exempt a host from
	// Rule. Optional.
	Hosts map[string]string
	// Domains are the DNS domains whose hosts Rule may name a service for,
	// e.g. []string{"company.com"}: a host is under a domain when it is the
	// domain or ends in "." + the domain, without regard to case, a
	// trailing dot or the port (kyc-service.eu.company.com is under
	// company.com, kyc-service.company.com.attacker.example is not).
	// Optional: none, and then Rule is never asked, and only Hosts are
	// signed. Single-label hosts (kyc-service) are under no domain; list
	// them in Hosts.
	Domains []string
	// Rule names the service of a host under Domains that Hosts does not
	// mention; it gets the host lowercased, without port or trailing dot.
	// Optional: ServiceFromHost. NoRule signs only the hosts in Hosts.
	Rule func(host string) (service string, ok bool)
	// AllowInsecureHTTP lets tokens go over plain http to hosts that are not
	// loopback (see ErrInsecureHTTP), for networks that encrypt below HTTP
	// (a service mesh's mutual TLS, say). Optional: false.
	AllowInsecureHTTP bool
	// MinRefreshInterval is the least time between two refreshes of one
	// service caused by 401 answers, so that a server rejecting every token
	// cannot turn each request into a call to the token service. Optional:
	// DefaultMinRefreshInterval; negative refreshes on every 401.
	MinRefreshInterval time.Duration
	// Logger receives a line when a token is refreshed after a 401 or
	// cannot be; never a token. Optional: slog.Default().
	Logger *slog.Logger

	once    sync.Once
	hosts   hostTable    // set by once, then read-only
	domains domainList   // set by once, then read-only
	bearer  BearerSource // set by once: Source, if it is a BearerSource

	refreshes singleflight.Group // key: service name
	mu        sync.Mutex
	refreshed map[string]time.Time // guarded by mu: each service's last refresh after a 401
}

// NewClient returns an http.Client whose requests are signed with src's
// tokens, for the hosts in hosts (see Transport.Hosts; nil for none) and,
// by the guide's rule, for hosts under domains (see Transport.Domains),
// over http.DefaultTransport. For anything else, set up a Transport.
func NewClient(src Source, hosts map[string]string, domains ...string) *http.Client {
	return &http.Client{Transport: &Transport{Source: src, Hosts: hosts, Domains: domains}}
}

// errRecentlyRefreshed means the token was refreshed less than
// MinRefreshInterval ago and was still rejected.
var errRecentlyRefreshed = errors.New("token refreshed less than the minimum refresh interval ago")

func (t *Transport) init() {
	t.hosts = newHostTable(t.Hosts)
	t.domains = newDomainList(t.Domains)
	t.bearer, _ = t.Source.(BearerSource)
	t.refreshed = make(map[string]time.Time)
}

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) log() *slog.Logger {
	if t.Logger != nil {
		return t.Logger
	}
	return slog.Default()
}

// serviceFor names the service req is for, if any.
func (t *Transport) serviceFor(req *http.Request) (string, bool) {
	if req.URL == nil || req.URL.Host == "" {
		return "", false
	}
	host, port := splitHost(req.URL.Host)
	if host == "" {
		return "", false
	}
	if s, ok := t.hosts.lookup(host, port); ok {
		return s, s != ""
	}
	if !t.domains.contains(host) {
		return "", false
	}
	rule := t.Rule
	if rule == nil {
		rule = ServiceFromHost
	}
	return rule(host)
}

// RoundTrip sends req, signed when its host belongs to a service, and
// retries it once after a 401 as the Transport's comment describes.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.once.Do(t.init)
	service, ok := t.serviceFor(req)
	if _, set := req.Header["Authorization"]; !ok || set || leftTheHost(req) {
		return t.base().RoundTrip(req)
	}
	if t.Source == nil {
		closeBody(req)
		return nil, errors.New("transport: Transport.Source is nil")
	}
	if req.URL.Scheme != "https" && !t.AllowInsecureHTTP {
		if host, _ := splitHost(req.URL.Host); !isLoopback(host) {
			closeBody(req)
			return nil, fmt.Errorf("transport: token for service %q not sent to %s://%s: %w", service, req.URL.Scheme, req.URL.Host, ErrInsecureHTTP)
		}
	}
	ctx := req.Context()
	auth, err := t.authorization(ctx, service)
	if err != nil {
		closeBody(req)
		return nil, fmt.Errorf("transport: token for service %q: %w", service, err)
	}
	resp, err := t.base().RoundTrip(signed(req, auth, req.Body))
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}

	// The server rejected the token: replace it whether or not this request
	// can be retried, so that the caller's own retry carries the new one.
	next, err := t.replacement(ctx, service, auth)
	if err == nil && next == auth {
		err = errors.New("the source returned the rejected token again")
	}
	if err != nil {
		level := slog.LevelWarn
		if errors.Is(err, errRecentlyRefreshed) {
			level = slog.LevelDebug
		}
		t.log().Log(ctx, level, "transport: server rejected the token and no other could be had; returning its 401",
			"service", service, "host", req.URL.Host, "err", err)
		return resp, nil
	}
	body := req.Body
	if body != nil && body != http.NoBody {
		if req.GetBody == nil {
			t.log().DebugContext(ctx, "transport: server rejected the token; the request body cannot be sent again, so the 401 is returned",
				"service", service, "host", req.URL.Host)
			return resp, nil
		}
		if body, err = req.GetBody(); err != nil {
			t.log().WarnContext(ctx, "transport: server rejected the token; the request body could not be rebuilt, so the 401 is returned",
				"service", service, "host", req.URL.Host, "err", err)
			return resp, nil
		}
	}
	t.log().DebugContext(ctx, "transport: server rejected the token; retrying with a new one",
		"service", service, "host", req.URL.Host)
	drain(resp.Body)
	return t.base().RoundTrip(signed(req, next, body))
}

// authorization is the Authorization header value for service.
func (t *Transport) authorization(ctx context.Context, service string) (string, error) {
	if t.bearer != nil {
		h, err := t.bearer.BearerToken(ctx, service)
		if err == nil && h == "" {
			err = errors.New("source returned an empty token")
		}
		return h, err
	}
	tok, err := t.Source.Token(ctx, service)
	if err != nil {
		return "", err
	}
	if tok.IsZero() {
		return "", errors.New("source returned an empty token")
	}
	return tok.AuthorizationHeader(), nil
}

// replacement is the Authorization header value to use instead of
// rejected, a value service's token was sent with and refused.
func (t *Transport) replacement(ctx context.Context, service, rejected string) (string, error) {
	// Requests in flight together are refused together: the first to get
	// here refreshes, the others find its token already in the Source.
	if cur, err := t.authorization(ctx, service); err == nil && cur != rejected {
		return cur, nil
	}
	// The refresh is shared, so one caller leaving does not cancel it.
	shared := context.WithoutCancel(ctx)
	ch := t.refreshes.DoChan(service, func() (any, error) {
		now := time.Now()
		interval := t.MinRefreshInterval
		if interval == 0 {
			interval = DefaultMinRefreshInterval
		}
		t.mu.Lock()
		last, seen := t.refreshed[service]
		if seen && interval > 0 && now.Sub(last) < interval {
			t.mu.Unlock()
			return nil, errRecentlyRefreshed
		}
		// Recorded before the call, and kept when it fails: the token
		// service gets no more than one forced call per interval from here.
		t.refreshed[service] = now
		t.mu.Unlock()
		tok, err := t.Source.Refresh(shared, service)
		if err != nil {
			return nil, err
		}
		if tok.IsZero() {
			return nil, errors.New("source returned an empty token")
		}
		return tok.AuthorizationHeader(), nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// CloseIdleConnections closes Base's idle connections, if it has a
// CloseIdleConnections method; http.Client.CloseIdleConnections calls it.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// signed is a shallow copy of req with its own header, carrying auth, and
// body. The header is copied deeply because a RoundTripper further down
// may modify it, and it belongs to the caller.
func signed(req *http.Request, auth string, body io.ReadCloser) *http.Request {
	r := new(http.Request)
	*r = *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header, 1)
	}
	r.Header["Authorization"] = []string{auth}
	r.Body = body
	return r
}

// closeBody closes the body of a request that will not be sent, as a
// RoundTripper must.
func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// drain reads what is left of a small body and closes it, so that its
// connection can carry the retry.
func drain(body io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, body, maxDrain)
	_ = body.Close()
}

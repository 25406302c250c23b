package transport_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/domain"
)

// namedSource hands out "tok-<service>" and records which services it was
// asked for.
type namedSource struct {
	mu    sync.Mutex
	asked []string
}

func (s *namedSource) Token(_ context.Context, service string) (domain.Token, error) {
	s.mu.Lock()
	s.asked = append(s.asked, service)
	s.mu.Unlock()
	now := time.Now()
	return domain.Token{AccessToken: "tok-" + service, TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}, nil
}

func (s *namedSource) Refresh(ctx context.Context, service string) (domain.Token, error) {
	return s.Token(ctx, service)
}

func (s *namedSource) services() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.asked)
}

// sent is one request as it left the Transport.
type sent struct {
	url, auth string
}

// recorder is a Base that sends nothing: it records each request and
// answers with answer's response (200 when answer is nil or returns nil).
type recorder struct {
	mu     sync.Mutex
	sent   []sent
	answer func(*http.Request) *http.Response
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	auth := "(none)"
	if v, ok := req.Header["Authorization"]; ok {
		auth = strings.Join(v, ",")
	}
	r.mu.Lock()
	r.sent = append(r.sent, sent{url: req.URL.String(), auth: auth})
	r.mu.Unlock()
	if r.answer != nil {
		if resp := r.answer(req); resp != nil {
			resp.Request = req
			return resp, nil
		}
	}
	return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

func (r *recorder) requests() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sent)
}

// authFor sends GET url through tr and returns the Authorization the
// request left with, "(none)" for none.
func authFor(t *testing.T, tr *transport.Transport, rec *recorder, url string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	before := len(rec.requests())
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	resp.Body.Close()
	got := rec.requests()
	if len(got) != before+1 {
		t.Fatalf("%s: %d requests sent, want 1", url, len(got)-before)
	}
	return got[len(got)-1].auth
}

// TestRuleSignsOnlyUnderListedDomains: the guide's <name>-service rule
// applies to hosts under Domains, matched label by label; look-alike hosts
// get no token, and no token is even fetched for the service they name.
func TestRuleSignsOnlyUnderListedDomains(t *testing.T) {
	src := &namedSource{}
	rec := &recorder{}
	tr := &transport.Transport{Source: src, Base: rec, Domains: []string{"company.com", ".Internal.Example."}}
	for _, tc := range []struct{ url, want string }{
		{"https://kyc-service.company.com/x", "Bearer tok-kyc"},
		{"https://KYC-Service.Company.COM./x", "Bearer tok-kyc"}, // case and trailing dot
		{"https://kyc-service.company.com:8443/x", "Bearer tok-kyc"},
		{"https://data-processor-service.eu.company.com/x", "Bearer tok-data-processor"},
		{"https://ledger-service.internal.example/x", "Bearer tok-ledger"},
		// Look-alikes and strangers.
		{"https://kyc-service.attacker.example/x", "(none)"},
		{"https://kyc-service.company.com.attacker.example/x", "(none)"},
		{"https://kyc-service.evilcompany.com/x", "(none)"},
		{"https://kyc-service.company.co/x", "(none)"},
		{"https://anything-service.attacker.example/x", "(none)"},
		{"https://kyc-service/x", "(none)"},             // a single label is under no domain
		{"https://company.com/x", "(none)"},             // the domain itself names no service
		{"https://kyc-service.cοmpany.com/x", "(none)"}, // Greek omicron
	} {
		if got := authFor(t, tr, rec, tc.url); got != tc.want {
			t.Errorf("%s: sent with %s, want %s", tc.url, got, tc.want)
		}
	}
	if got, want := src.services(), []string{"kyc", "kyc", "kyc", "data-processor", "ledger"}; !slices.Equal(got, want) {
		t.Errorf("tokens fetched for %v, want %v", got, want)
	}
}

// TestNoDomainsSignsOnlyListedHosts: without Domains the rule signs
// nothing; the README's first example signed kyc-service.<anything>.
func TestNoDomainsSignsOnlyListedHosts(t *testing.T) {
	src := &namedSource{}
	rec := &recorder{}
	tr := &transport.Transport{Source: src, Base: rec, Hosts: map[string]string{"api.partner.com": "payments", "*.kyc.example": "kyc"}}
	for _, tc := range []struct{ url, want string }{
		{"https://api.partner.com/x", "Bearer tok-payments"},
		{"https://eu.kyc.example/x", "Bearer tok-kyc"},
		{"https://kyc-service.company.com/x", "(none)"},
		{"https://kyc-service.attacker.example/x", "(none)"},
		{"https://api.partner.com.attacker.example/x", "(none)"},
		{"https://eu.kyc.example.attacker.example/x", "(none)"},
	} {
		if got := authFor(t, tr, rec, tc.url); got != tc.want {
			t.Errorf("%s: sent with %s, want %s", tc.url, got, tc.want)
		}
	}
	if got := src.services(); !slices.Equal(got, []string{"payments", "kyc"}) {
		t.Errorf("tokens fetched for %v", got)
	}
}

func TestNewClientTakesDomains(t *testing.T) {
	c := transport.NewClient(&namedSource{}, map[string]string{"api.partner.com": "payments"}, "company.com", "corp.example")
	tr, ok := c.Transport.(*transport.Transport)
	if !ok || !slices.Equal(tr.Domains, []string{"company.com", "corp.example"}) || tr.Hosts["api.partner.com"] != "payments" {
		t.Fatalf("NewClient built %#v", c.Transport)
	}
	if tr := transport.NewClient(&namedSource{}, nil).Transport.(*transport.Transport); len(tr.Domains) != 0 {
		t.Fatalf("domains %v without any given", tr.Domains)
	}
}

// TestPlainHTTPNeedsOptIn: a token goes over plain http only to loopback,
// unless AllowInsecureHTTP; otherwise the request fails before it is sent.
// Requests that are not signed pass whatever their scheme.
func TestPlainHTTPNeedsOptIn(t *testing.T) {
	hosts := map[string]string{"127.0.0.1": "kyc", "127.1.2.3": "kyc", "localhost": "kyc", "::1": "kyc",
		"10.0.0.7": "kyc", "api.partner.com": "kyc", "localhost.attacker.example": "kyc"}
	src := &namedSource{}
	rec := &recorder{}
	tr := &transport.Transport{Source: src, Base: rec, Hosts: hosts, Domains: []string{"company.com"}}
	for _, u := range []string{"http://127.0.0.1:8080/x", "http://127.1.2.3/x", "http://localhost:9000/x", "http://LOCALHOST./x", "http://[::1]:8080/x"} {
		if got := authFor(t, tr, rec, u); got != "Bearer tok-kyc" {
			t.Errorf("%s (loopback): sent with %s", u, got)
		}
	}
	if got := authFor(t, tr, rec, "http://example.org/x"); got != "(none)" {
		t.Errorf("unsigned plain http: sent with %s", got)
	}
	for _, u := range []string{"http://kyc-service.company.com/x", "http://10.0.0.7/x", "http://api.partner.com:80/x", "http://localhost.attacker.example/x"} {
		body := &closeRecorder{Reader: strings.NewReader("payload")}
		req, _ := http.NewRequest(http.MethodPost, u, body)
		before := len(rec.requests())
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, transport.ErrInsecureHTTP) || !strings.Contains(err.Error(), `"kyc"`) {
			t.Errorf("%s: err = %v, want ErrInsecureHTTP naming the service", u, err)
		}
		if len(rec.requests()) != before {
			t.Errorf("%s: sent over plain http", u)
		}
		if !body.closed.Load() {
			t.Errorf("%s: body not closed", u)
		}
		if err != nil && strings.Contains(err.Error(), "tok-") {
			t.Errorf("%s: the error holds a token: %v", u, err)
		}
	}

	tr = &transport.Transport{Source: src, Base: rec, Hosts: hosts, Domains: []string{"company.com"}, AllowInsecureHTTP: true}
	if got := authFor(t, tr, rec, "http://kyc-service.company.com/x"); got != "Bearer tok-kyc" {
		t.Errorf("with AllowInsecureHTTP: sent with %s", got)
	}
}

// redirector answers requests to from with a redirect to to.
func redirector(from, to string, code int) func(*http.Request) *http.Response {
	return func(req *http.Request) *http.Response {
		if req.URL.String() != from {
			return nil
		}
		h := http.Header{}
		h.Set("Location", to)
		return &http.Response{StatusCode: code, Header: h, Body: http.NoBody}
	}
}

// TestTokenNeverFollowsARedirectToAnotherHost: a signed http.Client that
// follows a 301, 302, 307 or 308 sends no token to the new host, even one
// the Transport would sign for a request of its own; a redirect within
// the host stays signed.
func TestTokenNeverFollowsARedirectToAnotherHost(t *testing.T) {
	const from = "https://kyc-service.company.com/start"
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		for _, tc := range []struct{ to, want string }{
			{"https://data-service.company.com/landing", "(none)"},
			{"https://kyc-service.company.com:8443/landing", "(none)"},
			{"https://api.partner.com/landing", "(none)"},
			{"https://kyc-service.attacker.example/landing", "(none)"},
			{"https://kyc-service.company.com.attacker.example/landing", "(none)"},
			{"https://kyc-service.company.com/landing", "Bearer tok-kyc"},
			{"https://KYC-service.company.com:443/landing", "Bearer tok-kyc"},
		} {
			t.Run(strconv.Itoa(code)+" to "+tc.to, func(t *testing.T) {
				rec := &recorder{answer: redirector(from, tc.to, code)}
				c := &http.Client{Transport: &transport.Transport{Source: &namedSource{}, Base: rec,
					Domains: []string{"company.com"}, Hosts: map[string]string{"api.partner.com": "payments"}}}
				req, _ := http.NewRequest(http.MethodGet, from, nil)
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got := rec.requests()
				if len(got) != 2 || got[0].auth != "Bearer tok-kyc" || got[1].url != tc.to {
					t.Fatalf("sent %+v, want the signed request then the redirect", got)
				}
				if got[1].auth != tc.want {
					t.Errorf("redirect to %s sent with %s, want %s", tc.to, got[1].auth, tc.want)
				}
			})
		}
	}
}

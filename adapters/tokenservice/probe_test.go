package tokenservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

var _ ports.IssuerProber = (*tokenservice.Issuer)(nil)

// probeRecorder is a token endpoint that records what probes send and
// answers with h.
type probeRecorder struct {
	mu    sync.Mutex
	forms []url.Values
	auth  []string
	h     http.HandlerFunc
}

func (p *probeRecorder) serve(t *testing.T) *httptest.Server {
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		p.mu.Lock()
		p.forms = append(p.forms, r.PostForm)
		p.auth = append(p.auth, r.Header.Get("Authorization"))
		p.mu.Unlock()
		p.h(w, r)
	})
}

func TestProbe(t *testing.T) {
	tests := []struct {
		name    string
		h       http.HandlerFunc
		healthy bool
		kind    domain.TokenServiceErrorKind
	}{
		{"401 invalid_client", answer(401, `{"error":"invalid_client"}`), true, 0},
		{"400 invalid_request", answer(400, `{"error":"invalid_request","error_description":"client authentication is required"}`), true, 0},
		{"400 unauthorized_client", answer(400, `{"error":"unauthorized_client"}`), true, 0},
		{"503 temporarily_unavailable", answer(503, `{"error":"temporarily_unavailable"}`), false, domain.Rejected},
		{"500 plain", answer(500, `oops`, "Content-Type", "text/plain"), false, domain.BadResponse},
		{"502 html from a proxy", answer(502, `<html>bad gateway</html>`, "Content-Type", "text/html"), false, domain.BadResponse},
		{"404 not a token endpoint", answer(404, `not found`), false, domain.BadResponse},
		{"401 without an OAuth body", answer(401, `Unauthorized`), false, domain.BadResponse},
		{"429", answer(429, ``, "Retry-After", "5"), false, domain.Unreachable},
		{"200 token without credentials", answer(200, `{"access_token":"`+accessToken+`","expires_in":60}`), false, domain.BadResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &probeRecorder{h: tt.h}
			srv := rec.serve(t)
			iss := newIssuer(t, srv.URL)
			err := iss.Probe(context.Background())
			if (err == nil) != tt.healthy {
				t.Fatalf("Probe = %v, want healthy %v", err, tt.healthy)
			}
			if len(rec.forms) != 1 {
				t.Fatalf("%d probe requests, want 1", len(rec.forms))
			}
			// No credential of any kind: only the grant type.
			if rec.auth[0] != "" || rec.forms[0].Encode() != "grant_type=client_credentials" {
				t.Errorf("probe sent Authorization %q, form %q; want only grant_type", rec.auth[0], rec.forms[0].Encode())
			}
			if err == nil {
				return
			}
			assertNoCredential(t, err)
			host := strings.TrimPrefix(srv.URL, "http://")
			if !strings.Contains(err.Error(), host) {
				t.Errorf("error %q does not name the endpoint host %s", err, host)
			}
			var tse *domain.TokenServiceError
			if !errors.As(err, &tse) || tse.Kind != tt.kind {
				t.Errorf("error %v: want a %v *domain.TokenServiceError", err, tt.kind)
			}
		})
	}
}

func TestProbeUnreachableAndTimeout(t *testing.T) {
	t.Run("no connection", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL + "/oauth/token?tenant=" + url.QueryEscape(secret)
		srv.Close()
		err := newIssuer(t, srv.URL).Probe(context.Background())
		var tse *domain.TokenServiceError
		if !errors.As(err, &tse) || tse.Kind != domain.Unreachable {
			t.Fatalf("Probe = %v, want unreachable", err)
		}
		err = newIssuer(t, u).Probe(context.Background())
		assertNoCredential(t, err)
		if strings.Contains(err.Error(), "tenant") {
			t.Errorf("error %q shows the endpoint's query", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		srv, _ := hang(t)
		iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.Timeout = 50 * time.Millisecond })
		err := iss.Probe(context.Background())
		var tse *domain.TokenServiceError
		if !errors.As(err, &tse) || tse.Kind != domain.Timeout {
			t.Fatalf("Probe = %v, want a timeout", err)
		}
	})
}

// TestProbeDistinctEndpoints: every distinct endpoint is probed once,
// whatever the number of services using it; a strict issuer probes only
// the endpoints of its services.
func TestProbeDistinctEndpoints(t *testing.T) {
	var hits [3]atomic.Int64
	var srvs [3]*httptest.Server
	for i := range srvs {
		srvs[i] = serve(t, func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			answer(401, `{"error":"invalid_client"}`)(w, r)
		})
	}
	srvs[2].Close() // down
	opts := func(strict bool) func(o *tokenservice.Options) {
		return func(o *tokenservice.Options) {
			o.Strict = strict
			o.Services = map[string]tokenservice.ClientOptions{
				"kyc":            {Scope: "kyc.read"}, // the default endpoint
				"data-processor": {URL: srvs[1].URL, ClientSecret: "dp-secret"},
				"reports":        {URL: srvs[1].URL, ClientID: "reports", ClientSecret: "r-secret"},
				"billing":        {URL: srvs[2].URL + "/token", ClientSecret: "b-secret"},
			}
		}
	}
	err := newIssuer(t, srvs[0].URL, opts(false)).Probe(context.Background())
	if hits[0].Load() != 1 || hits[1].Load() != 1 {
		t.Errorf("probe hits = %d, %d; want each endpoint once", hits[0].Load(), hits[1].Load())
	}
	if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(srvs[2].URL, "http://")) {
		t.Errorf("Probe = %v, want an error naming the down endpoint only", err)
	}
	for _, up := range srvs[:2] {
		if strings.Contains(err.Error(), strings.TrimPrefix(up.URL, "http://")) {
			t.Errorf("Probe error %q names a healthy endpoint %s", err, up.URL)
		}
	}

	// Strict: the default client serves nobody, so its endpoint is not
	// probed unless a service uses it (kyc does).
	hits[0].Store(0)
	opt := opts(true)
	_ = newIssuer(t, srvs[0].URL, func(o *tokenservice.Options) {
		opt(o)
		delete(o.Services, "kyc")
	}).Probe(context.Background())
	if hits[0].Load() != 0 {
		t.Errorf("strict issuer probed the unused default endpoint %d times", hits[0].Load())
	}
}

// TestProbeIsNotATokenRequest: probing leaves the negative cache alone and
// is not counted by a token service as a token request.
func TestProbeIsNotATokenRequest(t *testing.T) {
	dev, err := devissuer.New(devissuer.Options{ClientID: clientID, ClientSecret: secret})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dev.Handler())
	t.Cleanup(srv.Close)
	iss := newIssuer(t, srv.URL+devissuer.TokenPath, func(o *tokenservice.Options) { o.Clock = nil })
	for range 3 {
		if err := iss.Probe(context.Background()); err != nil {
			t.Fatalf("Probe against the development token service: %v", err)
		}
	}
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("Issue after probes (the probes' invalid_client must not be negative-cached): %v", err)
	}
	if got := dev.Stats(); got.TokenRequests != 1 || got.Issued != 1 || got.Probes != 3 {
		t.Errorf("dev issuer stats = %+v, want 1 token request and 3 probes", got)
	}
}

// TestProbeFollowsDiscovery: a client with an issuer URL is probed at the
// token endpoint its discovery document names.
func TestProbeFollowsDiscovery(t *testing.T) {
	is := startIssuer(t, "", "/.well-known/openid-configuration")
	is.rec.fail = func() (int, string) { return 401, `{"error":"invalid_client"}` }
	iss, err := discoveryIssuer(t, is.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := iss.Probe(context.Background()); err != nil {
		t.Fatalf("Probe = %v", err)
	}
	got := is.rec.requests()
	if len(got) != 1 || got[0].server != "token" || got[0].hasBasic || got[0].form.Encode() != "grant_type=client_credentials" {
		t.Fatalf("requests %+v; want one credential-less probe at the discovered token endpoint", got)
	}
}

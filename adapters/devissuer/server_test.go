package devissuer_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

const (
	clientID = "dev-client"
	secret   = "s3cr+t/=&%:x y"
)

var start = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	dev   *devissuer.Server
	srv   *httptest.Server
	clock *clocktest.FakeClock
	logs  *syncBuffer
	// tokens collects every token handed out, for the log check.
	mu     sync.Mutex
	tokens []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{clock: clocktest.NewFakeClock(start), logs: &syncBuffer{}}
	dev, err := devissuer.New(devissuer.Options{
		ClientID:      clientID,
		ClientSecret:  secret,
		TokenLifetime: 5 * time.Minute,
		Clock:         f.clock,
		Logger:        slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	f.dev = dev
	f.srv = httptest.NewServer(dev.Handler())
	t.Cleanup(func() {
		f.srv.Close()
		logs := f.logs.String()
		if strings.Contains(logs, secret) || strings.Contains(logs, url.QueryEscape(secret)) {
			t.Errorf("logs contain the client secret:\n%s", logs)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, tok := range f.tokens {
			if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
				t.Errorf("logs contain a token:\n%s", logs)
			}
		}
	})
	return f
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// post sends a token request; basic, if non-nil, is the raw user and
// password of the Basic header.
func (f *fixture) post(t *testing.T, form url.Values, basic *[2]string) reply {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+devissuer.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic != nil {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	if tok, ok := r.body["access_token"].(string); ok {
		f.mu.Lock()
		f.tokens = append(f.tokens, tok)
		f.mu.Unlock()
	}
	return r
}

// encodedBasic is RFC 6749 §2.3.1 Basic credentials.
func encodedBasic(id, sec string) *[2]string {
	return &[2]string{url.QueryEscape(id), url.QueryEscape(sec)}
}

func (f *fixture) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := f.srv.Client().Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		form  url.Values
		basic *[2]string
	}{
		{"basic, encoded", url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read api.write"}, "audience": {"https://api"}}, encodedBasic(clientID, secret)},
		{"basic, as typed (curl -u)", url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read api.write"}, "resource": {"https://api"}}, &[2]string{clientID, secret}},
		{"client_secret_post", url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read api.write"}, "audience": {"https://api"}, "client_id": {clientID}, "client_secret": {secret}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			r := f.post(t, tt.form, tt.basic)
			if r.status != 200 {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			if r.header.Get("Cache-Control") != "no-store" || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("headers %v", r.header)
			}
			if r.body["token_type"] != "Bearer" || r.body["expires_in"] != 300.0 || r.body["scope"] != "api.read api.write" {
				t.Errorf("body %s", r.raw)
			}
			tok := r.body["access_token"].(string)
			claims, err := f.dev.VerifyToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{
				"iss": devissuer.DefaultIssuer, "sub": clientID, "client_id": clientID, "aud": "https://api",
				"scope": "api.read api.write", "iat": float64(start.Unix()), "exp": float64(start.Add(5 * time.Minute).Unix()),
			}
			for k, v := range want {
				if claims[k] != v {
					t.Errorf("claim %s = %v, want %v", k, claims[k], v)
				}
			}
			if jti, _ := claims["jti"].(string); len(jti) != 32 {
				t.Errorf("jti = %v", claims["jti"])
			}

			// Anyone with the JWKS can verify it.
			var set devissuer.JWKS
			f.getJSON(t, devissuer.JWKSPath, &set)
			if len(set.Keys) != 1 {
				t.Fatalf("JWKS has %d keys", len(set.Keys))
			}
			k := set.Keys[0]
			if k.Kty != "EC" || k.Crv != "P-256" || k.Alg != "ES256" || k.Use != "sig" || k.Kid == "" {
				t.Errorf("JWK = %+v", k)
			}
			pub, err := k.PublicKey()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := devissuer.VerifyES256(tok, pub); err != nil {
				t.Errorf("token does not verify with the JWKS key: %v", err)
			}
			hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
			if !strings.Contains(string(hdr), `"kid":"`+k.Kid+`"`) {
				t.Errorf("token header %s lacks kid %s", hdr, k.Kid)
			}
		})
	}
}

func TestTokenWithoutScopeOrAudience(t *testing.T) {
	f := newFixture(t)
	r := f.post(t, url.Values{"grant_type": {"client_credentials"}}, encodedBasic(clientID, secret))
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	if _, ok := r.body["scope"]; ok {
		t.Errorf("scope answered without being asked: %s", r.raw)
	}
	claims, err := f.dev.VerifyToken(r.body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := claims["aud"]; ok {
		t.Errorf("aud without audience: %v", claims)
	}
}

func TestTokenRejects(t *testing.T) {
	cc := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range cc {
			v[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		basic  *[2]string
		status int
		code   string
	}{
		{"wrong secret, basic", cc, encodedBasic(clientID, "nope"), 401, "invalid_client"},
		{"wrong id, basic", cc, encodedBasic("other", secret), 401, "invalid_client"},
		{"wrong secret, post", with("client_id", clientID, "client_secret", "nope"), nil, 401, "invalid_client"},
		{"no secret, post", with("client_id", clientID), nil, 401, "invalid_client"},
		{"no credentials", cc, nil, 401, "invalid_client"},
		{"two auth methods", with("client_secret", secret), encodedBasic(clientID, secret), 400, "invalid_request"},
		{"wrong grant type", url.Values{"grant_type": {"password"}}, encodedBasic(clientID, secret), 400, "unsupported_grant_type"},
		{"no grant type", url.Values{}, encodedBasic(clientID, secret), 400, "invalid_request"},
		{"repeated scope", with("scope", "a", "scope", "b"), encodedBasic(clientID, secret), 400, "invalid_request"},
	}
	f := newFixture(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.post(t, tt.form, tt.basic)
			if r.status != tt.status || r.body["error"] != tt.code {
				t.Errorf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
			if _, ok := r.body["access_token"]; ok {
				t.Error("a rejected request got a token")
			}
			if got := r.header.Get("WWW-Authenticate"); (tt.status == 401) != strings.HasPrefix(got, "Basic") {
				t.Errorf("WWW-Authenticate = %q with status %d", got, r.status)
			}
			if strings.Contains(r.raw, secret) {
				t.Error("the answer repeats the secret")
			}
		})
	}
	// "no credentials" is what a health probe sends: not a token request.
	if got := f.dev.Stats(); got != (devissuer.Stats{TokenRequests: int64(len(tests)) - 1, Rejected: int64(len(tests)) - 1, Probes: 1}) {
		t.Errorf("Stats = %+v", got)
	}

	resp, err := f.srv.Client().Get(f.srv.URL + devissuer.TokenPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET token endpoint: %s", resp.Status)
	}
}

func TestStats(t *testing.T) {
	f := newFixture(t)
	for range 3 {
		f.post(t, url.Values{"grant_type": {"client_credentials"}}, encodedBasic(clientID, secret))
	}
	f.post(t, url.Values{"grant_type": {"client_credentials"}}, encodedBasic(clientID, "wrong"))
	var got devissuer.Stats
	f.getJSON(t, devissuer.StatsPath, &got)
	want := devissuer.Stats{TokenRequests: 4, Issued: 3, Rejected: 1}
	if got != want || f.dev.Stats() != want || f.dev.Requests() != 4 {
		t.Errorf("stats = %+v, Stats() = %+v, Requests() = %d, want %+v", got, f.dev.Stats(), f.dev.Requests(), want)
	}
	var raw map[string]int64
	f.getJSON(t, devissuer.StatsPath, &raw)
	if raw["tokenRequests"] != 4 || raw["issued"] != 3 || raw["rejected"] != 1 {
		t.Errorf("stats JSON = %v", raw)
	}
}

func TestFaultHooks(t *testing.T) {
	ok := url.Values{"grant_type": {"client_credentials"}}
	creds := encodedBasic(clientID, secret)

	t.Run("FailNext", func(t *testing.T) {
		f := newFixture(t)
		f.dev.FailNext(2)
		for i := range 2 {
			r := f.post(t, ok, creds)
			if r.status != 503 || r.body["error"] != "temporarily_unavailable" {
				t.Errorf("request %d: %d %s", i, r.status, r.raw)
			}
		}
		if r := f.post(t, ok, creds); r.status != 200 {
			t.Errorf("third request: %d %s", r.status, r.raw)
		}
		f.dev.FailNext(5)
		f.dev.FailNext(0)
		if r := f.post(t, ok, creds); r.status != 200 {
			t.Errorf("after FailNext(0): %d", r.status)
		}
		if got := f.dev.Stats(); got != (devissuer.Stats{TokenRequests: 4, Issued: 2, Rejected: 2}) {
			t.Errorf("Stats = %+v", got)
		}
	})

	t.Run("SetFailure", func(t *testing.T) {
		f := newFixture(t)
		f.dev.SetFailure(devissuer.Failure{Status: 502, RetryAfter: 1500 * time.Millisecond})
		f.dev.FailNext(1)
		r := f.post(t, ok, creds)
		if r.status != 502 || r.body != nil || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("got %d %q %v", r.status, r.raw, r.header)
		}
		if r.header.Get("Retry-After") != "2" {
			t.Errorf("Retry-After = %q", r.header.Get("Retry-After"))
		}
		f.dev.SetFailure(devissuer.Failure{Error: "server_error"})
		f.dev.FailNext(1)
		if r := f.post(t, ok, creds); r.status != 503 || r.body["error"] != "server_error" {
			t.Errorf("got %d %s", r.status, r.raw)
		}
		f.dev.ResetFaults()
		f.dev.FailNext(1)
		if r := f.post(t, ok, creds); r.status != 503 || r.body["error"] != "temporarily_unavailable" || r.body["error_description"] != "injected failure" {
			t.Errorf("after ResetFaults: %d %s", r.status, r.raw)
		}
	})

	t.Run("SetFailRate", func(t *testing.T) {
		f := newFixture(t)
		f.dev.SetFailRate(1)
		for range 5 {
			if r := f.post(t, ok, creds); r.status != 503 {
				t.Fatalf("fail rate 1: %d", r.status)
			}
		}
		f.dev.SetFailRate(0)
		if r := f.post(t, ok, creds); r.status != 200 {
			t.Errorf("fail rate 0: %d", r.status)
		}
	})

	t.Run("SetDelay", func(t *testing.T) {
		f := newFixture(t)
		f.dev.SetDelay(30 * time.Millisecond)
		began := time.Now()
		if r := f.post(t, ok, creds); r.status != 200 {
			t.Errorf("delayed request: %d", r.status)
		}
		if d := time.Since(began); d < 30*time.Millisecond {
			t.Errorf("answered after %v, before the delay", d)
		}

		// A client that gives up is counted as rejected once the handler
		// has seen it go; srv.Close waits for that.
		f.dev.SetDelay(time.Hour)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, f.srv.URL+devissuer.TokenPath, strings.NewReader(ok.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(creds[0], creds[1]) // a token request, not a probe
		if _, err := f.srv.Client().Do(req); err == nil {
			t.Fatal("request outlived the client's deadline")
		}
		f.srv.Close()
		if got := f.dev.Stats(); got != (devissuer.Stats{TokenRequests: 2, Issued: 1, Rejected: 1}) {
			t.Errorf("Stats = %+v", got)
		}
	})

	t.Run("SetTokenLifetime", func(t *testing.T) {
		f := newFixture(t)
		if err := f.dev.SetTokenLifetime(1500 * time.Millisecond); err == nil {
			t.Error("accepted a fractional lifetime")
		}
		if err := f.dev.SetTokenLifetime(2 * time.Second); err != nil {
			t.Fatal(err)
		}
		r := f.post(t, ok, creds)
		if r.body["expires_in"] != 2.0 {
			t.Errorf("expires_in = %v", r.body["expires_in"])
		}
	})
}

func TestVerifyTokenRejects(t *testing.T) {
	f := newFixture(t)
	tok := f.post(t, url.Values{"grant_type": {"client_credentials"}}, encodedBasic(clientID, secret)).body["access_token"].(string)
	parts := strings.Split(tok, ".")
	enc := base64.RawURLEncoding.EncodeToString

	other := newFixture(t)
	otherTok := other.post(t, url.Values{"grant_type": {"client_credentials"}}, encodedBasic(clientID, secret)).body["access_token"].(string)

	tests := map[string]string{
		"tampered payload": parts[0] + "." + enc([]byte(`{"iss":"jwtcache-dev-issuer","exp":9999999999}`)) + "." + parts[2],
		"alg none":         enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		"two parts":        parts[0] + "." + parts[1],
		"short signature":  parts[0] + "." + parts[1] + "." + enc([]byte("sig")),
		"other key":        otherTok,
	}
	for name, bad := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := f.dev.VerifyToken(bad); err == nil {
				t.Error("VerifyToken accepted it")
			} else if strings.Contains(err.Error(), parts[2]) {
				t.Errorf("error %q quotes the token", err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		f.clock.Set(start.Add(5 * time.Minute))
		if _, err := f.dev.VerifyToken(tok); err == nil || !strings.Contains(err.Error(), "expired") {
			t.Errorf("VerifyToken of an expired token: %v", err)
		}
		if _, err := devissuer.VerifyES256(tok, f.dev.PublicKey()); err != nil {
			t.Errorf("VerifyES256 checks only the signature, got %v", err)
		}
	})
}

func TestNewValidates(t *testing.T) {
	for name, opts := range map[string]devissuer.Options{
		"no client id":        {ClientSecret: "x"},
		"no secret":           {ClientID: "x"},
		"fractional lifetime": {ClientID: "x", ClientSecret: "y", TokenLifetime: 1500 * time.Millisecond},
		"negative lifetime":   {ClientID: "x", ClientSecret: "y", TokenLifetime: -time.Second},
	} {
		if _, err := devissuer.New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, opts)
		}
	}
	dev, err := devissuer.New(devissuer.Options{ClientID: "x", ClientSecret: "y"})
	if err != nil {
		t.Fatal(err)
	}
	if dev.Issuer() != devissuer.DefaultIssuer {
		t.Errorf("Issuer() = %q", dev.Issuer())
	}
}

func TestListenAndServe(t *testing.T) {
	dev, err := devissuer.New(devissuer.Options{ClientID: clientID, ClientSecret: secret, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	byCtx, err := dev.ListenAndServe(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	byClose, err := dev.ListenAndServe(context.Background(), ":0")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{byCtx, byClose} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") || !strings.HasSuffix(u, devissuer.TokenPath) {
			t.Errorf("URL %q is not a loopback token endpoint", u)
		}
		if status := postTo(t, u); status != 200 {
			t.Errorf("POST %s: %d", u, status)
		}
	}

	cancel()
	if err := dev.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{byCtx, byClose} {
		if _, err := http.Post(u, "application/x-www-form-urlencoded", nil); err == nil {
			t.Errorf("%s still answers after Close", u)
		}
	}
	if _, err := dev.ListenAndServe(context.Background(), "256.0.0.1:0"); err == nil {
		t.Error("ListenAndServe accepted a bad address")
	}
}

func postTo(t *testing.T, u string) int {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	resp, err := http.PostForm(u, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestGenerateSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		s := devissuer.GenerateSecret()
		if len(s) != 43 || url.QueryEscape(s) != s || seen[s] {
			t.Fatalf("secret %q: wrong length, needs escaping, or repeats", s)
		}
		seen[s] = true
	}
}

func ExampleServer() {
	dev, _ := devissuer.New(devissuer.Options{ClientID: "demo", ClientSecret: devissuer.GenerateSecret(), Logger: slog.New(slog.DiscardHandler)})
	srv := httptest.NewServer(dev.Handler())
	defer srv.Close()
	dev.FailNext(1) // the first request meets a token service that is down
	fmt.Println(dev.Stats())
	// Output: {0 0 0 0}
}

// TestProbesAreNotTokenRequests: a POST without client authentication is
// counted as a probe, answered invalid_client, sees injected failures
// without using up FailNext, and leaves the token-request counters alone.
func TestProbesAreNotTokenRequests(t *testing.T) {
	f := newFixture(t)
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r := f.post(t, cc, nil); r.status != 401 || r.body["error"] != "invalid_client" {
		t.Fatalf("probe answered %d %s, want 401 invalid_client", r.status, r.raw)
	}
	f.dev.FailNext(1)
	if r := f.post(t, cc, nil); r.status != 503 {
		t.Errorf("probe while failing answered %d, want the injected 503", r.status)
	}
	if r := f.post(t, cc, encodedBasic(clientID, secret)); r.status != 503 {
		t.Errorf("the token request after the probe answered %d; the probe used up FailNext", r.status)
	}
	if got := f.dev.Stats(); got != (devissuer.Stats{TokenRequests: 1, Rejected: 1, Probes: 2}) {
		t.Errorf("Stats = %+v", got)
	}
}

package tokenservice_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// seenRequest is what a recording token server saw of one request.
type seenRequest struct {
	server                string
	basicID, basicSecret  string
	hasBasic              bool
	form                  url.Values
	assertionHeader       map[string]any
	assertionClaims       map[string]any
	assertionSignatureLen int
}

// recorder is a set of token servers that record every request and answer
// each with a token, or with the status and body of fail when set.
type recorder struct {
	mu   sync.Mutex
	seen []seenRequest
	fail func() (int, string)
}

func (rec *recorder) server(t *testing.T, name string) *httptest.Server {
	t.Helper()
	return serve(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		s := seenRequest{server: name, form: r.PostForm}
		if id, sec, ok := r.BasicAuth(); ok {
			s.hasBasic = true
			s.basicID, _ = url.QueryUnescape(id)
			s.basicSecret, _ = url.QueryUnescape(sec)
		}
		if a := r.PostForm.Get("client_assertion"); a != "" {
			parts := strings.Split(a, ".")
			if len(parts) == 3 {
				h, _ := base64.RawURLEncoding.DecodeString(parts[0])
				p, _ := base64.RawURLEncoding.DecodeString(parts[1])
				sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
				_ = json.Unmarshal(h, &s.assertionHeader)
				_ = json.Unmarshal(p, &s.assertionClaims)
				s.assertionSignatureLen = len(sig)
			}
		}
		rec.mu.Lock()
		rec.seen = append(rec.seen, s)
		fail := rec.fail
		rec.mu.Unlock()
		if fail != nil {
			status, body := fail()
			answer(status, body)(w, r)
			return
		}
		answer(200, `{"access_token":"`+accessToken+`","expires_in":3600}`)(w, r)
	})
}

func (rec *recorder) requests() []seenRequest {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]seenRequest(nil), rec.seen...)
}

func (rec *recorder) last(t *testing.T) seenRequest {
	t.Helper()
	seen := rec.requests()
	if len(seen) == 0 {
		t.Fatal("no request recorded")
	}
	return seen[len(seen)-1]
}

func TestPerServiceClients(t *testing.T) {
	rec := &recorder{}
	defSrv, kycSrv := rec.server(t, "default"), rec.server(t, "kyc")
	iss, err := tokenservice.New(tokenservice.Options{
		URL:          defSrv.URL,
		ClientID:     clientID,
		ClientSecret: secret,
		Scope:        "api.read",
		Clock:        fixedClock{now},
		Services: map[string]tokenservice.ClientOptions{
			"kyc": {URL: kycSrv.URL, ClientID: "kyc-client", ClientSecret: "kyc-secret", AuthMethod: tokenservice.AuthClientSecretPost,
				Scope: "kyc.read", Audience: "https://kyc.example", GrantType: "urn:example:kyc"},
			"data-processor": {Scope: "dp.write", Audience: "https://dp.example"},
			"reports":        {AuthMethod: tokenservice.AuthClientSecretPost},
			"same-client":    {URL: defSrv.URL, ClientID: clientID},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		server   string
		basic    [2]string // id, secret when sent with Basic
		form     url.Values
		hasBasic bool
	}
	tests := []struct {
		service string
		want    want
	}{
		{"kyc", want{server: "kyc", form: url.Values{"grant_type": {"urn:example:kyc"}, "scope": {"kyc.read"},
			"audience": {"https://kyc.example"}, "resource": {"https://kyc.example"},
			"client_id": {"kyc-client"}, "client_secret": {"kyc-secret"}}}},
		{"data-processor", want{server: "default", hasBasic: true, basic: [2]string{clientID, secret},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {"dp.write"},
				"audience": {"https://dp.example"}, "resource": {"https://dp.example"}}}},
		{"reports", want{server: "default", form: url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"},
			"client_id": {clientID}, "client_secret": {secret}}}},
		{"same-client", want{server: "default", hasBasic: true, basic: [2]string{clientID, secret},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}}},
		{"unlisted", want{server: "default", hasBasic: true, basic: [2]string{clientID, secret},
			form: url.Values{"grant_type": {"client_credentials"}, "scope": {"api.read"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			tok, err := iss.Issue(context.Background(), tt.service)
			if err != nil {
				t.Fatal(err)
			}
			if tok.AccessToken != accessToken {
				t.Errorf("token = %v", tok)
			}
			got := rec.last(t)
			if got.server != tt.want.server {
				t.Errorf("asked %s's token service, want %s's", got.server, tt.want.server)
			}
			if got.hasBasic != tt.want.hasBasic || (got.hasBasic && [2]string{got.basicID, got.basicSecret} != tt.want.basic) {
				t.Errorf("Basic credentials sent %v (id %q), want %v (id %q)", got.hasBasic, got.basicID, tt.want.hasBasic, tt.want.basic[0])
			}
			if got.form.Encode() != tt.want.form.Encode() {
				t.Errorf("form\n got %s\nwant %s", redactForm(got.form), redactForm(tt.want.form))
			}
		})
	}
	if n := len(rec.requests()); n != len(tests) {
		t.Errorf("%d requests, want one per Issue (%d)", n, len(tests))
	}
}

// redactForm shows a form without its secrets, for failure messages.
func redactForm(v url.Values) string {
	c := url.Values{}
	for k, vs := range v {
		c[k] = vs
	}
	if c.Has("client_secret") {
		c.Set("client_secret", "<set>")
	}
	return c.Encode()
}

func TestStrictServices(t *testing.T) {
	rec := &recorder{}
	srv := rec.server(t, "default")
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.Strict = true
		o.Services = map[string]tokenservice.ClientOptions{"kyc": {}}
	})
	if _, err := iss.Issue(context.Background(), "kyc"); err != nil {
		t.Fatalf("listed service: %v", err)
	}
	_, err := iss.Issue(context.Background(), "data-processor")
	if !errors.Is(err, domain.ErrUnknownService) {
		t.Fatalf("unlisted service: error %v, want domain.ErrUnknownService", err)
	}
	var tse *domain.TokenServiceError
	if errors.As(err, &tse) {
		t.Errorf("an unknown service is a token service error: %v", err)
	}
	if !strings.Contains(err.Error(), `"data-processor"`) {
		t.Errorf("error %q does not name the service", err)
	}
	if n := len(rec.requests()); n != 1 {
		t.Errorf("%d requests, want 1: an unknown service is never asked for", n)
	}

	// Not strict: an unlisted name uses the default client.
	lax := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.Services = map[string]tokenservice.ClientOptions{"kyc": {}} })
	if _, err := lax.Issue(context.Background(), "data-processor"); err != nil {
		t.Errorf("not strict: %v", err)
	}
}

func TestPerServiceTimeout(t *testing.T) {
	srv, _ := hang(t)
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.Timeout = time.Hour
		o.Services = map[string]tokenservice.ClientOptions{service: {Timeout: 50 * time.Millisecond}}
	})
	_, err := iss.Issue(context.Background(), service)
	assertTimeout(t, err)
}

func TestNegativeCache(t *testing.T) {
	const invalidClient = `{"error":"invalid_client","error_description":"bad secret ` + secret + `"}`
	tests := []struct {
		name   string
		status int
		body   string
		cached bool
	}{
		{"invalid_client", 401, invalidClient, true},
		{"unauthorized_client", 400, `{"error":"unauthorized_client"}`, true},
		// The other definitive RFC 6749 §5.2 refusals: the same request
		// gets the same answer until someone changes the configuration.
		{"invalid_scope", 400, `{"error":"invalid_scope"}`, true},
		{"invalid_request", 400, `{"error":"invalid_request","error_description":"audience is not allowed"}`, true},
		{"invalid_grant", 400, `{"error":"invalid_grant"}`, true},
		{"unsupported_grant_type", 400, `{"error":"unsupported_grant_type"}`, true},
		{"temporarily_unavailable", 503, `{"error":"temporarily_unavailable"}`, false},
		{"server_error", 500, `{"error":"server_error"}`, false},
		{"429 slow_down", 429, `{"error":"slow_down"}`, false},
		{"unknown code", 400, `{"error":"something_else"}`, false},
		{"plain 401", 401, `Unauthorized`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.NewFakeClock(now)
			rec := &recorder{fail: func() (int, string) { return tt.status, tt.body }}
			srv := rec.server(t, "default")
			own := rec.server(t, "own")
			iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
				o.Clock = clk
				o.Services = map[string]tokenservice.ClientOptions{"own": {URL: own.URL, ClientSecret: "other-secret"}}
			})
			_, first := iss.Issue(context.Background(), service)
			firstTSE := tokenServiceError(t, first)
			assertNoCredential(t, first)

			clk.Set(now.Add(tokenservice.DefaultNegativeCache - time.Nanosecond))
			_, again := iss.Issue(context.Background(), service)
			_, sibling := iss.Issue(context.Background(), "data-processor") // same default client
			wantRequests := 1
			if !tt.cached {
				wantRequests = 3
			}
			if n := len(rec.requests()); n != wantRequests {
				t.Fatalf("%d requests within the window, want %d", n, wantRequests)
			}
			if errors.Is(again, tokenservice.ErrCachedRejection) != tt.cached {
				t.Errorf("second error %v: cached %v, want %v", again, !tt.cached, tt.cached)
			}
			tse := tokenServiceError(t, again)
			if tse.Kind != firstTSE.Kind || tse.Code != firstTSE.Code || tse.HTTPStatus != firstTSE.HTTPStatus || tse.Description != firstTSE.Description {
				t.Errorf("cached error %+v differs from the answer %+v", tse, firstTSE)
			}
			assertNoCredential(t, again)
			if tt.cached {
				if !strings.Contains(again.Error(), "cached") || !strings.Contains(again.Error(), "for 1s more") {
					t.Errorf("error %q does not say it is cached and for how long", again)
				}
				var stse *domain.TokenServiceError
				if !errors.As(sibling, &stse) || stse.Service != "data-processor" || !errors.Is(sibling, tokenservice.ErrCachedRejection) {
					t.Errorf("the default client's other service: %v", sibling)
				}
				if firstTSE.Err != nil || errors.Is(first, tokenservice.ErrCachedRejection) {
					t.Errorf("the first error claims to be cached: %v", first)
				}
				// The copy is a copy: changing it leaves the cache alone.
				tse.Code = "changed"
				if _, err := iss.Issue(context.Background(), service); tokenServiceError(t, err).Code != firstTSE.Code {
					t.Error("the cached error was shared, not copied")
				}
			}

			// A service with a client of its own is not refused for the
			// default client's mistake.
			before := len(rec.requests())
			_, _ = iss.Issue(context.Background(), "own")
			if n := len(rec.requests()); n != before+1 {
				t.Errorf("own client: %d requests, want %d", n, before+1)
			}

			clk.Set(now.Add(tokenservice.DefaultNegativeCache))
			before = len(rec.requests())
			_, err := iss.Issue(context.Background(), service)
			if n := len(rec.requests()); n != before+1 || errors.Is(err, tokenservice.ErrCachedRejection) {
				t.Errorf("after the window: %d requests (want %d), error %v", n, before+1, err)
			}
		})
	}

	t.Run("turned off", func(t *testing.T) {
		rec := &recorder{fail: func() (int, string) { return 401, invalidClient }}
		srv := rec.server(t, "default")
		iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.NegativeCache = -1 })
		for range 3 {
			_, err := iss.Issue(context.Background(), service)
			if errors.Is(err, tokenservice.ErrCachedRejection) {
				t.Error("cached while turned off")
			}
		}
		if n := len(rec.requests()); n != 3 {
			t.Errorf("%d requests, want 3", n)
		}
	})
	t.Run("custom window", func(t *testing.T) {
		clk := clocktest.NewFakeClock(now)
		rec := &recorder{fail: func() (int, string) { return 401, invalidClient }}
		srv := rec.server(t, "default")
		iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.Clock, o.NegativeCache = clk, 5*time.Second })
		_, _ = iss.Issue(context.Background(), service)
		clk.Set(now.Add(4 * time.Second))
		_, _ = iss.Issue(context.Background(), service)
		clk.Set(now.Add(5 * time.Second))
		_, _ = iss.Issue(context.Background(), service)
		if n := len(rec.requests()); n != 2 {
			t.Errorf("%d requests, want 2", n)
		}
	})
}

// keyFile writes key in the given PEM form to a file and returns its path.
func keyFile(t *testing.T, key crypto.Signer, form string) string {
	t.Helper()
	var blocks []*pem.Block
	switch form {
	case "pkcs8":
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		blocks = []*pem.Block{{Type: "PRIVATE KEY", Bytes: der}}
	case "pkcs1":
		blocks = []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}}
	case "sec1":
		der, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		if err != nil {
			t.Fatal(err)
		}
		// As openssl ecparam -genkey writes it: parameters first.
		blocks = []*pem.Block{{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
			{Type: "EC PRIVATE KEY", Bytes: der}}
	default:
		t.Fatalf("unknown form %s", form)
	}
	var b []byte
	for _, blk := range blocks {
		b = append(b, pem.EncodeToMemory(blk)...)
	}
	path := filepath.Join(t.TempDir(), form+".pem")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var (
	rsaOnce sync.Once
	rsaTest *rsa.PrivateKey
)

// testRSAKey is one 2048-bit key for the whole package: generating them is
// slow under the race detector.
func testRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaTest = k
	})
	return rsaTest
}

func testECKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPrivateKeyJWTAgainstDevIssuer has the development token service
// verify the assertions: signature for both algorithms and every key file
// form, iss, sub, aud, exp, and a fresh jti each time (it refuses a
// replayed one).
func TestPrivateKeyJWTAgainstDevIssuer(t *testing.T) {
	ec := testECKey(t, elliptic.P256())
	tests := []struct {
		name string
		key  crypto.Signer
		form string
		alg  string // SigningAlg option; empty: from the key
	}{
		{"RS256 PKCS#1", testRSAKey(t), "pkcs1", ""},
		{"RS256 PKCS#8, alg given", testRSAKey(t), "pkcs8", tokenservice.SigningRS256},
		{"ES256 SEC1 after EC PARAMETERS", ec, "sec1", ""},
		{"ES256 PKCS#8, alg given", ec, "pkcs8", tokenservice.SigningES256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktest.NewFakeClock(now)
			dev, err := devissuer.New(devissuer.Options{ClientID: clientID, ClientPublicKey: tt.key.Public(), Clock: clk,
				Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(dev.Handler())
			t.Cleanup(srv.Close)
			iss := newIssuer(t, srv.URL+devissuer.TokenPath, func(o *tokenservice.Options) {
				o.Clock = clk
				o.ClientSecret = ""
				o.PrivateKeyFile = keyFile(t, tt.key, tt.form)
				o.SigningAlg = tt.alg
			})
			for i := range 2 {
				tok, err := iss.Issue(context.Background(), service)
				if err != nil {
					t.Fatalf("request %d: %v", i+1, err)
				}
				if _, err := dev.VerifyToken(tok.AccessToken); err != nil {
					t.Errorf("token: %v", err)
				}
			}
			if got := dev.Stats(); got.Issued != 2 {
				t.Errorf("stats = %+v", got)
			}
		})
	}

	t.Run("a service with its own key, the default with a secret", func(t *testing.T) {
		dev, err := devissuer.New(devissuer.Options{ClientID: "kyc-client", ClientPublicKey: ec.Public(), Clock: fixedClock{now},
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(dev.Handler())
		t.Cleanup(srv.Close)
		iss := newIssuer(t, "https://default.invalid/token", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {URL: srv.URL + devissuer.TokenPath, ClientID: "kyc-client",
				PrivateKeyFile: keyFile(t, ec, "pkcs8")}}
		})
		if _, err := iss.Issue(context.Background(), "kyc"); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPrivateKeyJWTAssertion(t *testing.T) {
	rec := &recorder{}
	srv := rec.server(t, "default")
	iss := newIssuer(t, srv.URL+"/oauth/token?tenant=a", func(o *tokenservice.Options) {
		o.ClientSecret = ""
		o.PrivateKeyFile = keyFile(t, testECKey(t, elliptic.P256()), "pkcs8")
		o.KeyID = "key-2025"
		o.Audience = "https://api.example.com"
	})
	for range 2 {
		if _, err := iss.Issue(context.Background(), service); err != nil {
			t.Fatal(err)
		}
	}
	seen := rec.requests()
	for _, s := range seen {
		if s.hasBasic || s.form.Has("client_secret") {
			t.Error("a secret method's credentials were sent too")
		}
		if s.form.Get("client_assertion_type") != tokenservice.ClientAssertionType || s.form.Get("client_id") != clientID {
			t.Errorf("form = %v", s.form)
		}
		if s.form.Get("audience") != "https://api.example.com" || s.form.Get("scope") != "api.read api.write" {
			t.Errorf("form = %v", s.form)
		}
		h, c := s.assertionHeader, s.assertionClaims
		if h["alg"] != "ES256" || h["typ"] != "JWT" || h["kid"] != "key-2025" {
			t.Errorf("header = %v", h)
		}
		if c["iss"] != clientID || c["sub"] != clientID || c["aud"] != srv.URL+"/oauth/token?tenant=a" {
			t.Errorf("claims = %v", c)
		}
		if c["iat"] != float64(now.Unix()) || c["exp"] != float64(now.Add(tokenservice.AssertionLifetime).Unix()) {
			t.Errorf("iat/exp = %v/%v, want %d and 60s later", c["iat"], c["exp"], now.Unix())
		}
		if jti, _ := c["jti"].(string); len(jti) < 16 {
			t.Errorf("jti %q is too short to be unguessable", jti)
		}
		if s.assertionSignatureLen != 64 {
			t.Errorf("ES256 signature is %d bytes, want the 64 of r||s", s.assertionSignatureLen)
		}
	}
	if len(seen) != 2 || seen[0].assertionClaims["jti"] == seen[1].assertionClaims["jti"] {
		t.Error("the jti is not fresh for each request")
	}
}

func TestNewValidatesClients(t *testing.T) {
	rsaPath := keyFile(t, testRSAKey(t), "pkcs1")
	ecPath := keyFile(t, testECKey(t, elliptic.P256()), "sec1")
	write := func(name, content string) string {
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemBody := strings.Split(string(mustRead(t, ecPath)), "\n")[4] // the first line of the EC key's base64
	garbage := write("garbage.pem", "-----BEGIN PRIVATE KEY-----\n"+pemBody+"\n-----END PRIVATE KEY-----\n")

	base := tokenservice.Options{URL: "https://auth.example.com/oauth/token", ClientID: "id", ClientSecret: secret}
	tests := []struct {
		name string
		edit func(*tokenservice.Options)
		want string
	}{
		{"invalid service name", func(o *tokenservice.Options) { o.Services = map[string]tokenservice.ClientOptions{"KYC": {}} },
			"tokenservice: Services: invalid service name"},
		{"own URL, inherited secret", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {URL: "https://other.example.com/token"}}
		}, `tokenservice: service "kyc": its URL or client id differs from the default client's, so it needs a client secret or private key file of its own`},
		{"own client id, inherited secret", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {ClientID: "kyc-client"}}
		}, `service "kyc": its URL or client id differs`},
		{"key id without own key", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {KeyID: "k"}}
		}, `service "kyc": a key id or signing algorithm needs a private key file of the service's own`},
		{"private_key_jwt without key", func(o *tokenservice.Options) { o.AuthMethod = tokenservice.AuthPrivateKeyJWT },
			"tokenservice: auth method private_key_jwt needs a private key file"},
		{"service private_key_jwt without key", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {ClientSecret: "s", AuthMethod: tokenservice.AuthPrivateKeyJWT}}
		}, `service "kyc": auth method private_key_jwt needs a private key file`},
		{"secret method with only a key", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {PrivateKeyFile: ecPath, AuthMethod: tokenservice.AuthClientSecretPost}}
		}, `service "kyc": auth method client_secret_post does not use the private key file`},
		{"bad service URL", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {URL: "ftp://x/t", ClientSecret: "s"}}
		}, `service "kyc": token service URL must be absolute http or https`},
		{"negative service timeout", func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {Timeout: -1}}
		}, `service "kyc": timeout`},
		{"missing key file", func(o *tokenservice.Options) { o.PrivateKeyFile = "/nonexistent/key.pem" },
			`tokenservice: private key file "/nonexistent/key.pem": no such file or directory`},
		{"not PEM", func(o *tokenservice.Options) { o.PrivateKeyFile = write("x.pem", secret) }, "no PEM private key block"},
		{"garbage in a PEM block", func(o *tokenservice.Options) { o.PrivateKeyFile = garbage }, "the PRIVATE KEY block does not parse"},
		{"encrypted", func(o *tokenservice.Options) {
			o.PrivateKeyFile = write("enc.pem", "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"+pemBody+"\n-----END ENCRYPTED PRIVATE KEY-----\n")
		}, "the key is encrypted"},
		{"ES256 with an RSA key", func(o *tokenservice.Options) { o.PrivateKeyFile, o.SigningAlg = rsaPath, tokenservice.SigningES256 },
			"holds a key for RS256, not ES256"},
		{"RS256 with an EC key", func(o *tokenservice.Options) { o.PrivateKeyFile, o.SigningAlg = ecPath, tokenservice.SigningRS256 },
			"holds a key for ES256, not RS256"},
		{"unknown algorithm", func(o *tokenservice.Options) { o.PrivateKeyFile, o.SigningAlg = ecPath, "HS256" },
			`signing algorithm "HS256" is not RS256 or ES256`},
		{"small RSA key", func(o *tokenservice.Options) { o.PrivateKeyFile = keyFile(t, small, "pkcs8") },
			"the RSA key has 1024 bits; RS256 needs at least 2048"},
		{"P-384 key", func(o *tokenservice.Options) { o.PrivateKeyFile = keyFile(t, testECKey(t, elliptic.P384()), "pkcs8") },
			"the EC key is on P-384; ES256 needs P-256"},
		{"Ed25519 key", func(o *tokenservice.Options) { o.PrivateKeyFile = keyFile(t, edKey, "pkcs8") }, "is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			tt.edit(&opts)
			_, err := tokenservice.New(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "tokenservice: ") {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), pemBody) {
				t.Errorf("error %q holds a secret or key material", err)
			}
		})
	}

	valid := base
	valid.PrivateKeyFile, valid.ClientSecret = ecPath, ""
	valid.Services = map[string]tokenservice.ClientOptions{
		"kyc":     {URL: "https://kyc.example.com/token", PrivateKeyFile: rsaPath, KeyID: "k"},
		"reports": {Scope: "reports"},
		"legacy":  {ClientID: "legacy", ClientSecret: "legacy-secret"},
	}
	if _, err := tokenservice.New(valid); err != nil {
		t.Errorf("New(valid): %v", err)
	}
	// With no credentials on the default client (mutual TLS), a service may
	// change the URL without bringing its own.
	mtls := tokenservice.Options{URL: base.URL, ClientID: "id", Services: map[string]tokenservice.ClientOptions{"kyc": {URL: "https://kyc.example.com/token"}}}
	if _, err := tokenservice.New(mtls); err != nil {
		t.Errorf("New(mutual TLS): %v", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAssertionNeverInError: a token service that echoes the request into
// its error_description must not put the client assertion, a credential
// for its minute, into jwtcache's errors and logs.
func TestAssertionNeverInError(t *testing.T) {
	var sent string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		sent = r.PostForm.Get("client_assertion")
		body, _ := json.Marshal(map[string]string{"error": "invalid_client", "error_description": "bad assertion " + sent})
		answer(401, string(body))(w, r)
	})
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.ClientSecret = ""
		o.PrivateKeyFile = keyFile(t, testECKey(t, elliptic.P256()), "pkcs8")
	})
	_, err := iss.Issue(context.Background(), service)
	tse := tokenServiceError(t, err)
	if sent == "" || strings.Contains(err.Error(), sent) || strings.Contains(err.Error(), strings.Split(sent, ".")[2]) {
		t.Errorf("error %q holds the assertion", err)
	}
	if !strings.Contains(tse.Description, "[redacted]") {
		t.Errorf("Description = %q, want the assertion redacted", tse.Description)
	}
}

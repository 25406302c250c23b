package tokenservice_test

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// issuerServer serves a discovery document at path and a token endpoint
// that records how the client authenticated. The document's issuer is
// the server's URL plus issuerPath unless doc overrides fields.
type issuerServer struct {
	*httptest.Server
	mu   sync.Mutex
	doc  map[string]any
	path string
	rec  *recorder
}

func startIssuer(t *testing.T, issuerPath, wellKnown string, methods ...string) *issuerServer {
	t.Helper()
	s := &issuerServer{rec: &recorder{}}
	tokenSrv := s.rec.server(t, "token")
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		body, _ := json.Marshal(s.doc)
		path := s.path
		s.mu.Unlock()
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(s.Close)
	s.path = strings.Replace(wellKnown, "{path}", issuerPath, 1)
	s.doc = map[string]any{"issuer": s.URL + issuerPath, "token_endpoint": tokenSrv.URL + "/oauth2/token"}
	if methods != nil {
		s.doc["token_endpoint_auth_methods_supported"] = methods
	}
	return s
}

func (s *issuerServer) set(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v == nil {
		delete(s.doc, key)
		return
	}
	s.doc[key] = v
}

func discoveryIssuer(t *testing.T, issuerURL string, edit ...func(*tokenservice.Options)) (*tokenservice.Issuer, error) {
	t.Helper()
	opts := tokenservice.Options{IssuerURL: issuerURL, ClientID: clientID, ClientSecret: secret, Reach: tokenservice.Reach{Logger: slog.New(slog.DiscardHandler)}}
	for _, e := range edit {
		e(&opts)
	}
	iss, err := tokenservice.New(opts)
	if err == nil {
		t.Cleanup(func() { _ = iss.Close() })
	}
	return iss, err
}

func TestDiscoveryFindsTheTokenEndpoint(t *testing.T) {
	for _, tc := range []struct{ name, issuerPath, wellKnown string }{
		{"OpenID Connect", "", "/.well-known/openid-configuration"},
		{"OpenID Connect, issuer with a path", "/realms/acme", "{path}/.well-known/openid-configuration"},
		{"RFC 8414", "", "/.well-known/oauth-authorization-server"},
		{"RFC 8414, path inserted", "/tenant-1", "/.well-known/oauth-authorization-server{path}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := startIssuer(t, tc.issuerPath, tc.wellKnown)
			iss, err := discoveryIssuer(t, is.URL+tc.issuerPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := iss.Issue(context.Background(), service); err != nil {
				t.Fatal(err)
			}
			if s := is.rec.last(t); !s.hasBasic || s.basicSecret != secret {
				t.Errorf("request %+v; want client_secret_basic, the RFC 8414 default when no methods are listed", s)
			}
			if err := iss.DiscoveryHealth(); err != nil {
				t.Errorf("DiscoveryHealth = %v", err)
			}
		})
	}
}

func TestDiscoveryChoosesTheBestSupportedMethod(t *testing.T) {
	key := keyFile(t, testECKey(t, elliptic.P256()), "pkcs8")
	for _, tc := range []struct {
		name      string
		supported []string
		edit      func(*tokenservice.Options)
		want      string
	}{
		{"secret, post only", []string{"client_secret_post"}, nil, tokenservice.AuthClientSecretPost},
		{"secret, both", []string{"client_secret_post", "client_secret_basic"}, nil, tokenservice.AuthClientSecretBasic},
		{"key and secret, key supported", []string{"client_secret_basic", "private_key_jwt"},
			func(o *tokenservice.Options) { o.PrivateKeyFile = key }, tokenservice.AuthPrivateKeyJWT},
		{"key and secret, key not supported", []string{"client_secret_post"},
			func(o *tokenservice.Options) { o.PrivateKeyFile = key }, tokenservice.AuthClientSecretPost},
		{"configured wins", []string{"client_secret_basic"},
			func(o *tokenservice.Options) { o.AuthMethod = tokenservice.AuthClientSecretPost }, tokenservice.AuthClientSecretPost},
		{"none supported: best configured", []string{"tls_client_auth"}, nil, tokenservice.AuthClientSecretBasic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := startIssuer(t, "", "/.well-known/openid-configuration", tc.supported...)
			edits := []func(*tokenservice.Options){}
			if tc.edit != nil {
				edits = append(edits, tc.edit)
			}
			iss, err := discoveryIssuer(t, is.URL, edits...)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := iss.Issue(context.Background(), service); err != nil {
				t.Fatal(err)
			}
			s := is.rec.last(t)
			got := tokenservice.AuthClientSecretBasic
			switch {
			case s.form.Get("client_assertion") != "":
				got = tokenservice.AuthPrivateKeyJWT
			case s.form.Get("client_secret") != "":
				got = tokenservice.AuthClientSecretPost
			case !s.hasBasic:
				got = "none"
			}
			if got != tc.want {
				t.Errorf("authenticated with %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDiscoveryDocumentErrorsAtNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*issuerServer)
		want string
	}{
		{"no token endpoint", func(s *issuerServer) { s.set("token_endpoint", nil) }, "no token_endpoint"},
		{"another issuer", func(s *issuerServer) { s.set("issuer", "https://evil.example.com") }, `its issuer "https://evil.example.com" is not the issuer URL`},
		{"issuer with a trailing slash", func(s *issuerServer) { s.set("issuer", s.URL+"/") }, "is not the issuer URL"},
		{"relative token endpoint", func(s *issuerServer) { s.set("token_endpoint", "/token") }, "its token_endpoint must be absolute"},
		{"not JSON", func(s *issuerServer) {
			s.mu.Lock()
			s.path = "/nowhere"
			s.mu.Unlock()
		}, "no discovery document at"},
		{"too large", func(s *issuerServer) {
			s.set("padding", strings.Repeat("x", int(tokenservice.DefaultMaxDiscoveryBytes)))
		}, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := startIssuer(t, "", "/.well-known/openid-configuration")
			tc.edit(is)
			_, err := discoveryIssuer(t, is.URL)
			var de *tokenservice.DiscoveryError
			if !errors.As(err, &de) || de.IssuerURL != is.URL || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want a DiscoveryError for %s saying %q", err, is.URL, tc.want)
			}
			assertNoCredential(t, err)
		})
	}
	t.Run("both URLs", func(t *testing.T) {
		_, err := discoveryIssuer(t, "https://auth.example.com", func(o *tokenservice.Options) { o.URL = "https://auth.example.com/token" })
		if err == nil || !strings.Contains(err.Error(), "token service URL and issuer URL are both set") {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("issuer with a query", func(t *testing.T) {
		_, err := discoveryIssuer(t, "https://auth.example.com?tenant=1")
		if err == nil || !strings.Contains(err.Error(), "must not have a query") {
			t.Fatalf("New = %v", err)
		}
	})
	t.Run("document size limit", func(t *testing.T) {
		is := startIssuer(t, "", "/.well-known/openid-configuration")
		_, err := discoveryIssuer(t, is.URL, func(o *tokenservice.Options) { o.MaxDiscoveryBytes = 50 })
		if err == nil || !strings.Contains(err.Error(), "limit 50 bytes") {
			t.Fatalf("New = %v", err)
		}
	})
}

// syncBuffer is a bytes.Buffer for concurrent writers.
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

// handlerClient is an http.Client that serves requests with h in memory,
// so that tests in a synctest bubble reach "servers" without a network.
// down, while true, makes every request for a discovery document fail as
// a refused connection does.
type handlerClient struct {
	mu   sync.Mutex
	h    http.Handler
	down bool
	hits map[string]int
}

func (c *handlerClient) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	down := c.down && strings.Contains(r.URL.Path, "/.well-known/")
	if c.hits == nil {
		c.hits = map[string]int{}
	}
	c.hits[r.URL.Path]++
	c.mu.Unlock()
	if down {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	if r.Body != nil {
		defer r.Body.Close()
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

func (c *handlerClient) setDown(down bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.down = down
}

// inMemoryIssuer serves at https://idp.test a discovery document whose
// token endpoint is the current value of *endpoint, and token endpoints
// at any other path.
func inMemoryIssuer(endpoint *string, mu *sync.Mutex) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/.well-known/openid-configuration" {
			mu.Lock()
			te := *endpoint
			mu.Unlock()
			_ = json.NewEncoder(w).Encode(map[string]any{"issuer": "https://idp.test", "token_endpoint": te})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(io.Discard, r.Body)
		_, _ = w.Write([]byte(`{"access_token":"` + accessToken + `","expires_in":3600}`))
	})
}

// TestDiscoveryUnreachableAtStartUp: New does not fail; token requests are
// Unreachable and health is DOWN until the issuer answers, which the
// background retries find out.
func TestDiscoveryUnreachableAtStartUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		endpoint := "https://idp.test/oauth2/token"
		hc := &handlerClient{h: inMemoryIssuer(&endpoint, &mu), down: true}
		logs := &syncBuffer{}
		iss, err := tokenservice.New(tokenservice.Options{
			IssuerURL: "https://idp.test", ClientID: clientID, ClientSecret: secret,
			HTTPClient: &http.Client{Transport: hc},
			Reach:      tokenservice.Reach{Logger: slog.New(slog.NewTextHandler(logs, nil))},
		})
		if err != nil {
			t.Fatalf("New with the issuer down: %v", err)
		}
		defer iss.Close()
		_, err = iss.Issue(context.Background(), service)
		var tse *domain.TokenServiceError
		if !errors.As(err, &tse) || tse.Kind != domain.Unreachable || !errors.Is(err, tokenservice.ErrNoDiscoveryDocument) {
			t.Fatalf("Issue = %v; want Unreachable, no discovery document", err)
		}
		if err := iss.DiscoveryHealth(); !errors.Is(err, tokenservice.ErrNoDiscoveryDocument) {
			t.Fatalf("DiscoveryHealth = %v", err)
		}
		if !strings.Contains(logs.String(), "issuer unreachable") {
			t.Fatalf("nothing logged:\n%s", logs)
		}

		time.Sleep(5 * tokenservice.DiscoveryRetryMin)
		synctest.Wait()
		if err := iss.DiscoveryHealth(); err == nil {
			t.Fatal("healthy while the issuer is still down")
		}
		hc.setDown(false)
		time.Sleep(tokenservice.DiscoveryRetryMax)
		synctest.Wait()
		if err := iss.DiscoveryHealth(); err != nil {
			t.Fatalf("DiscoveryHealth after the issuer came up = %v", err)
		}
		if _, err := iss.Issue(context.Background(), service); err != nil {
			t.Fatal(err)
		}
	})
}

// TestDiscoveryRefresh: the document is fetched again every
// DiscoveryRefresh; a moved token endpoint is followed, and a failed
// refresh keeps the last document (DEGRADED, not DOWN).
func TestDiscoveryRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		endpoint := "https://idp.test/v1/token"
		hc := &handlerClient{h: inMemoryIssuer(&endpoint, &mu)}
		iss, err := tokenservice.New(tokenservice.Options{
			IssuerURL: "https://idp.test", ClientID: clientID, ClientSecret: secret,
			HTTPClient: &http.Client{Transport: hc},
			Reach:      tokenservice.Reach{Logger: slog.New(slog.DiscardHandler)},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer iss.Close()
		issue := func() {
			t.Helper()
			if _, err := iss.Issue(context.Background(), service); err != nil {
				t.Fatal(err)
			}
		}
		issue()

		mu.Lock()
		endpoint = "https://idp.test/v2/token"
		mu.Unlock()
		time.Sleep(tokenservice.DefaultDiscoveryRefresh - time.Second)
		synctest.Wait()
		issue()
		time.Sleep(time.Second)
		synctest.Wait()
		issue()
		hc.mu.Lock()
		v1, v2, docs := hc.hits["/v1/token"], hc.hits["/v2/token"], hc.hits["/.well-known/openid-configuration"]
		hc.mu.Unlock()
		if v1 != 2 || v2 != 1 || docs != 2 {
			t.Fatalf("v1 %d, v2 %d token requests, %d document fetches; want 2, 1, 2", v1, v2, docs)
		}

		hc.setDown(true)
		time.Sleep(tokenservice.DefaultDiscoveryRefresh)
		synctest.Wait()
		if err := iss.DiscoveryHealth(); !errors.Is(err, tokenservice.ErrDiscoveryStale) {
			t.Fatalf("DiscoveryHealth = %v; want stale", err)
		}
		issue() // the last document is still in use
	})
}

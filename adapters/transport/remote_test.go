package transport_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// fakeClock is a clock the test moves by hand.
var t0 = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

// restServer serves the real REST API over the core, and counts requests
// and the API keys they carry.
type restServer struct {
	*httptest.Server
	requests atomic.Int32
	mu       sync.Mutex
	keys     []string
}

func newRESTServer(t *testing.T, st stack) *restServer {
	t.Helper()
	h := rest.NewHandler(st.svc, rest.Options{Logger: discard})
	s := &restServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		s.keys = append(s.keys, r.Header.Get(transport.APIKeyHeader))
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestRemoteAgainstTheRESTAPI(t *testing.T) {
	st := newStack(t)
	srv := newRESTServer(t, st)
	ctx := context.Background()
	r, err := transport.NewRemote(srv.URL+"/", transport.RemoteOptions{APIKey: "key-123", Logger: discard})
	if err != nil {
		t.Fatal(err)
	}

	got, err := r.Token(ctx, "kyc")
	if err != nil {
		t.Fatal(err)
	}
	want, err := st.svc.Token(ctx, "kyc")
	if err != nil {
		t.Fatal(err)
	}
	// The REST API writes times with second precision.
	if got.AccessToken != want.AccessToken || got.TokenType != "Bearer" || got.Scope != "api.read" ||
		!got.IssuedAt.Equal(want.IssuedAt.Truncate(time.Second)) || !got.ExpiresAt.Equal(want.ExpiresAt.Truncate(time.Second)) {
		t.Fatalf("Remote.Token = %v, want %v", got, want)
	}
	if got.Lifetime() != time.Hour {
		t.Fatalf("lifetime %v, want 1h", got.Lifetime())
	}
	if _, err := st.issuer.VerifyToken(got.AccessToken); err != nil {
		t.Fatal(err)
	}

	// A fresh kept token costs no request.
	again, err := r.Token(ctx, "kyc")
	if err != nil || again.AccessToken != got.AccessToken {
		t.Fatalf("second Token = %v, %v", again, err)
	}
	bearer, err := r.BearerToken(ctx, "kyc")
	if err != nil || bearer != "Bearer "+got.AccessToken {
		t.Fatalf("BearerToken = %q, %v", bearer, err)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests to the server, want 1", n)
	}

	// Refresh goes to the server, and its token is kept.
	refreshed, err := r.Refresh(ctx, "kyc")
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.AccessToken == got.AccessToken {
		t.Fatal("Refresh returned the old token")
	}
	if now, _ := st.svc.Token(ctx, "kyc"); now.AccessToken != refreshed.AccessToken {
		t.Fatal("the server does not hold the refreshed token")
	}
	if after, _ := r.Token(ctx, "kyc"); after.AccessToken != refreshed.AccessToken {
		t.Fatal("Token after Refresh does not return the refreshed token")
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("%d requests to the server, want 2", n)
	}
	if n := st.issuer.Requests(); n != 2 {
		t.Fatalf("token service called %d times, want 2", n)
	}

	// A name the server refuses comes back as its error.
	_, err = r.Token(ctx, "KYC")
	var re *transport.RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("err = %v, want a *RemoteError", err)
	}
	if re.Status != http.StatusBadRequest || re.Code != "invalid_service_name" || re.Service != "KYC" || re.Message == "" || re.Temporary() {
		t.Fatalf("RemoteError = %+v", re)
	}
	if !errors.Is(err, domain.ErrInvalidServiceName) {
		t.Fatal("the error does not match domain.ErrInvalidServiceName")
	}
	if strings.Contains(err.Error(), refreshed.AccessToken) {
		t.Fatal("the error carries a token")
	}

	srv.mu.Lock()
	defer srv.mu.Unlock()
	for _, k := range srv.keys {
		if k != "key-123" {
			t.Fatalf("a request carried API key %q", k)
		}
	}
}

func TestTransportOverRemote(t *testing.T) {
	st := newStack(t)
	srv := newRESTServer(t, st)
	r, err := transport.NewRemote(srv.URL, transport.RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := newDownstream(t, func(_ int, req *http.Request) int {
		tok, _ := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if _, err := st.issuer.VerifyToken(tok); err != nil {
			return http.StatusUnauthorized
		}
		return http.StatusOK
	})
	// The downstream is on 127.0.0.1 too, on another port.
	c := transport.NewClient(r, map[string]string{hostOf(t, d.URL): "kyc"})
	for range 3 {
		if resp, _ := do(t, c, http.MethodGet, d.URL, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("%d requests to the jwtcache server, want 1", n)
	}
}

// fakeREST answers the token and refresh endpoints with tokens stamped by
// clock, or with fail's status and body when fail is set.
type fakeREST struct {
	*httptest.Server
	clock    *clocktest.FakeClock
	requests atomic.Int32
	mu       sync.Mutex
	fail     func(w http.ResponseWriter) // guarded by mu
	hold     chan struct{}               // GET requests wait on it, if set before start
	entered  chan struct{}               // receives one value per held GET
}

func newFakeREST(t *testing.T, clock *clocktest.FakeClock) *fakeREST {
	t.Helper()
	f := &fakeREST{clock: clock}
	f.Server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeREST) start(t *testing.T) *transport.Remote {
	t.Helper()
	f.Start()
	r, err := transport.NewRemote(f.URL, transport.RemoteOptions{Clock: f.clock, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fakeREST) setFail(fn func(w http.ResponseWriter)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = fn
}

func (f *fakeREST) serve(w http.ResponseWriter, r *http.Request) {
	n := f.requests.Add(1)
	if r.Method == http.MethodGet && f.hold != nil {
		f.entered <- struct{}{}
		<-f.hold
	}
	f.mu.Lock()
	fail := f.fail
	f.mu.Unlock()
	if fail != nil {
		fail(w)
		return
	}
	service := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	now := f.clock.Now()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"serviceName":    service,
		"accessToken":    fmt.Sprintf("%s-%s-%d", strings.ToLower(r.Method), service, n),
		"tokenType":      "Bearer",
		"expiresIn":      3600,
		"scope":          "a b",
		"issuedAt":       now.Format(time.RFC3339),
		"expiresAt":      now.Add(time.Hour).Format(time.RFC3339),
		"cacheExpiresAt": now.Add(time.Hour - 20*time.Second).Format(time.RFC3339),
	})
}

func TestRemoteKeepsTheTokenUntilItsCacheExpiry(t *testing.T) {
	clock := clocktest.NewFakeClock(t0)
	f := newFakeREST(t, clock)
	r := f.start(t)
	ctx := context.Background()

	first, err := r.Token(ctx, "kyc")
	if err != nil || first.AccessToken != "get-kyc-1" || first.Scope != "a b" || !first.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("Token = %v, %v", first, err)
	}
	cacheExp := t0.Add(time.Hour - 20*time.Second)
	clock.Set(cacheExp.Add(-time.Nanosecond))
	if tok, _ := r.Token(ctx, "kyc"); tok.AccessToken != "get-kyc-1" || f.requests.Load() != 1 {
		t.Fatalf("just before cacheExpiresAt: %v after %d requests", tok, f.requests.Load())
	}
	clock.Set(cacheExp)
	second, err := r.Token(ctx, "kyc")
	if err != nil || second.AccessToken != "get-kyc-2" {
		t.Fatalf("at cacheExpiresAt: %v, %v", second, err)
	}

	// The server goes away: the kept token is served until it expires.
	f.setFail(func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":"token_service_unavailable","message":"the token service is unreachable","serviceName":"kyc","timestamp":"2024-01-15T10:30:00Z"}`))
	})
	clock.Set(second.ExpiresAt.Add(-time.Second))
	if tok, err := r.Token(ctx, "kyc"); err != nil || tok.AccessToken != "get-kyc-2" {
		t.Fatalf("with the server down and a valid kept token: %v, %v", tok, err)
	}
	clock.Set(second.ExpiresAt)
	_, err = r.Token(ctx, "kyc")
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Status != 503 || re.Code != "token_service_unavailable" || !re.Temporary() {
		t.Fatalf("with the kept token expired: %v", err)
	}
	if want := `remote jwtcache answered HTTP 503 token_service_unavailable for service "kyc": the token service is unreachable`; err.Error() != want {
		t.Fatalf("error text %q, want %q", err, want)
	}
}

func TestRemoteDoesNotServeAKeptTokenTheServerRefused(t *testing.T) {
	clock := clocktest.NewFakeClock(t0)
	f := newFakeREST(t, clock)
	r := f.start(t)
	ctx := context.Background()
	if _, err := r.Token(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	f.setFail(func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"unknown_service","message":"no token service is configured for this service name","serviceName":"kyc"}`))
	})
	clock.Set(t0.Add(time.Hour - time.Second))
	_, err := r.Token(ctx, "kyc")
	if !errors.Is(err, domain.ErrUnknownService) {
		t.Fatalf("err = %v, want the server's unknown_service", err)
	}
}

func TestRemoteConcurrentMissesShareOneRequest(t *testing.T) {
	clock := clocktest.NewFakeClock(t0)
	f := newFakeREST(t, clock)
	f.hold, f.entered = make(chan struct{}), make(chan struct{}, 1)
	r := f.start(t)

	var wg sync.WaitGroup
	tokens := make(chan string, 50)
	for range 50 {
		wg.Go(func() {
			tok, err := r.BearerToken(context.Background(), "kyc")
			if err != nil {
				t.Error(err)
			}
			tokens <- tok
		})
	}
	<-f.entered
	close(f.hold) // callers that had not joined yet find the kept token
	wg.Wait()
	close(tokens)
	for tok := range tokens {
		if tok != "Bearer get-kyc-1" {
			t.Fatalf("got %q", tok)
		}
	}
	if n := f.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRemoteRefreshWinsOverAnOlderFetch(t *testing.T) {
	clock := clocktest.NewFakeClock(t0)
	f := newFakeREST(t, clock)
	f.hold, f.entered = make(chan struct{}), make(chan struct{}, 1)
	r := f.start(t)
	ctx := context.Background()

	fetched := make(chan string, 1)
	go func() {
		tok, _ := r.Token(ctx, "kyc")
		fetched <- tok.AccessToken
	}()
	<-f.entered // the GET is at the server
	refreshed, err := r.Refresh(ctx, "kyc")
	if err != nil || refreshed.AccessToken != "post-kyc-2" {
		t.Fatalf("Refresh = %v, %v", refreshed, err)
	}
	close(f.hold)
	if got := <-fetched; got != "get-kyc-1" {
		t.Fatalf("the fetch got %q", got)
	}
	if tok, _ := r.Token(ctx, "kyc"); tok.AccessToken != "post-kyc-2" {
		t.Fatalf("kept %q, want the refreshed token, not the older fetch's", tok.AccessToken)
	}
	if n := f.requests.Load(); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
}

func TestRemoteBadAnswers(t *testing.T) {
	const secret = "eyJ.secret-token.sig"
	tests := []struct {
		name   string
		status int
		body   string
		check  func(t *testing.T, err error)
	}{
		{"proxy error page", 502, "<html>Bad Gateway</html>", func(t *testing.T, err error) {
			var re *transport.RemoteError
			if !errors.As(err, &re) || re.Status != 502 || re.Code != "" || re.Message != "Bad Gateway" || !re.Temporary() {
				t.Fatalf("err = %#v", err)
			}
		}},
		{"shutting down", 503, `{"error":"shutting_down","message":"the token cache is shutting down"}`, func(t *testing.T, err error) {
			if !errors.Is(err, domain.ErrClosed) {
				t.Fatalf("err = %v", err)
			}
		}},
		{"not JSON", 200, "accessToken=" + secret, nil},
		{"no access token", 200, `{"serviceName":"kyc","expiresAt":"2024-01-15T11:30:00Z"}`, nil},
		{"no expiry", 200, `{"serviceName":"kyc","accessToken":"` + secret + `"}`, nil},
		{"bad time", 200, `{"serviceName":"kyc","accessToken":"` + secret + `","expiresAt":"soon"}`, nil},
		{"wrong type", 200, `{"serviceName":"kyc","accessToken":"` + secret + `","expiresIn":"3600"}`, nil},
		{"another service", 200, `{"serviceName":"data","accessToken":"` + secret + `","expiresIn":3600}`, nil},
		{"too large", 200, `{"accessToken":"` + secret + strings.Repeat("x", 70<<10) + `"}`, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			r, err := transport.NewRemote(srv.URL, transport.RemoteOptions{Logger: discard})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := r.Token(context.Background(), "kyc")
			if err == nil {
				t.Fatalf("Token = %v, want an error", tok)
			}
			if strings.Contains(err.Error(), "secret-token") {
				t.Fatalf("error %q carries the token", err)
			}
			if tc.check != nil {
				tc.check(t, err)
			}
		})
	}
}

func TestRemoteSendsTheAPIKeyOnlyToItsServer(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	r, err := transport.NewRemote(srv.URL, transport.RemoteOptions{APIKey: "key-123"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Token(context.Background(), "kyc")
	var re *transport.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusTemporaryRedirect {
		t.Fatalf("err = %v, want the redirect as an error", err)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

func TestNewRemoteChecksTheURL(t *testing.T) {
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://host", "http://", "http://user:hunter2@host", "http://host/?a=1", "http://host/#x", "http://host/%zz"} {
		_, err := transport.NewRemote(u, transport.RemoteOptions{})
		if err == nil {
			t.Errorf("NewRemote(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewRemote(%q) error %q repeats the password", u, err)
		}
	}
	if _, err := transport.NewRemote("http://127.0.0.1:8080/prefix/", transport.RemoteOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestRemoteHitDoesNotAllocate(t *testing.T) {
	f := newFakeREST(t, clocktest.NewFakeClock(t0))
	r := f.start(t)
	ctx := context.Background()
	if _, err := r.BearerToken(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(1000, func() { _, _ = r.BearerToken(ctx, "kyc") }); n != 0 {
		t.Fatalf("a Remote.BearerToken hit allocates %v times", n)
	}
}

// TestRemoteErrorsMatchTheLimitsSentinels: the server's refusals by its
// limits read as the core's own errors through a Remote.
func TestRemoteErrorsMatchTheLimitsSentinels(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		want   error
	}{
		{503, `{"error":"too_many_services","message":"limit of 10000 service names"}`, domain.ErrTooManyServices},
		{429, `{"error":"rate_limited","message":"retry after Retry-After seconds"}`, domain.ErrRateLimited},
	} {
		f := newFakeREST(t, clocktest.NewFakeClock(t0))
		f.setFail(func(w http.ResponseWriter) {
			w.WriteHeader(tc.status)
			_, _ = w.Write([]byte(tc.body))
		})
		_, err := f.start(t).Token(context.Background(), "kyc")
		var re *transport.RemoteError
		if !errors.Is(err, tc.want) || !errors.As(err, &re) || !re.Temporary() {
			t.Errorf("HTTP %d %s: %v, want %v and temporary", tc.status, tc.body, err, tc.want)
		}
	}
}

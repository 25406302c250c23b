package rest

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jwtcache/jwtcache/domain"
)

// The API keys of the tests; none may reach a log line or an answer.
const (
	keyAll  = "all-services-KEY-0123456789"
	keyKYC  = "kyc-only-KEY-0123456789"
	keyGone = "unknown-KEY-0123456789-xyz"
)

// authHandler is the API over a counting fake, with keyAll for every
// service and keyKYC for kyc only.
func authHandler(t *testing.T, protectStatus bool) (http.Handler, *Auth, *syncBuffer, *atomic.Int64) {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	auth, err := NewAuth(AuthOptions{
		Keys:          []APIKey{{Key: keyAll}, {Key: keyKYC, Services: []string{"kyc"}}},
		ProtectStatus: protectStatus,
		Logger:        logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := &atomic.Int64{}
	count := func(context.Context, string) (domain.Token, error) {
		calls.Add(1)
		return guideToken(), nil
	}
	svc := &fakeService{token: count, refresh: count}
	h := NewHandler(svc, Options{Logger: logger, Clock: fixedClock{testNow}, Auth: auth})
	return h, auth, logs, calls
}

// request serves one request with the given headers (name, value pairs).
func request(h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

var protectedRoutes = []struct{ method, path string }{
	{http.MethodGet, "/api/v1/jwt/token/kyc"},
	{http.MethodGet, "/api/v1/jwt/bearer/kyc"},
	{http.MethodPost, "/api/v1/jwt/refresh/kyc"},
	{http.MethodDelete, "/api/v1/jwt/evict/kyc"},
}

func TestAuthRefusesWithoutAValidKey(t *testing.T) {
	h, auth, logs, calls := authHandler(t, false)
	refused := []struct {
		name    string
		headers []string
	}{
		{"no header", nil},
		{"wrong bearer", []string{"Authorization", "Bearer " + keyGone}},
		{"wrong X-API-Key", []string{"X-API-Key", keyGone}},
		{"empty X-API-Key", []string{"X-API-Key", ""}},
		{"empty bearer", []string{"Authorization", "Bearer "}},
		{"prefix of a key", []string{"X-API-Key", keyAll[:len(keyAll)-1]}},
		{"key with more", []string{"X-API-Key", keyAll + "x"}},
		{"Basic scheme", []string{"Authorization", "Basic " + keyAll}},
		{"key without scheme", []string{"Authorization", keyAll}},
		{"two X-API-Key headers", []string{"X-API-Key", keyAll, "X-API-Key", keyAll}},
		// X-API-Key, when present, is the key: a valid bearer does not
		// rescue a wrong one.
		{"wrong X-API-Key beside a valid bearer", []string{"X-API-Key", keyGone, "Authorization", "Bearer " + keyAll}},
	}
	var want uint64
	for _, r := range protectedRoutes {
		for _, tt := range refused {
			t.Run(r.method+" "+r.path+"/"+tt.name, func(t *testing.T) {
				rec := request(h, r.method, r.path, tt.headers...)
				want++
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("status %d, body %s", rec.Code, rec.Body)
				}
				body := decode(t, rec.Body.Bytes())
				if body["error"] != "unauthorized" || body["serviceName"] != "kyc" || !strings.Contains(body["message"].(string), "API key") {
					t.Errorf("body %v", body)
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="jwtcache"` {
					t.Errorf("WWW-Authenticate = %q", got)
				}
				if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				if got := auth.Failures(); got != want {
					t.Errorf("Failures() = %d, want %d", got, want)
				}
			})
		}
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the core was called %d times for refused requests", n)
	}
	assertNoKeys(t, logs.String())
	if !strings.Contains(logs.String(), "rest: request refused") {
		t.Errorf("refusals are not in the debug log: %s", logs)
	}
}

func TestAuthAcceptsBothHeaderForms(t *testing.T) {
	h, auth, logs, _ := authHandler(t, false)
	for _, r := range protectedRoutes {
		for _, headers := range [][]string{
			{"Authorization", "Bearer " + keyAll},
			{"Authorization", "bearer   " + keyAll + " "},
			{"X-API-Key", keyAll},
			{"X-API-Key", keyKYC},
			{"Authorization", "Bearer " + keyKYC},
		} {
			rec := request(h, r.method, r.path, headers...)
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s with %s: %d %s", r.method, r.path, headers[0], rec.Code, rec.Body)
			}
		}
	}
	if auth.Failures() != 0 || auth.Forbidden() != 0 {
		t.Errorf("counted %d failures, %d forbidden", auth.Failures(), auth.Forbidden())
	}
	assertNoKeys(t, logs.String())
}

func TestAuthKeyLimitedToServices(t *testing.T) {
	h, auth, logs, calls := authHandler(t, true)
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/jwt/token/data-processor"},
		{http.MethodGet, "/api/v1/jwt/bearer/data-processor"},
		{http.MethodPost, "/api/v1/jwt/refresh/data-processor"},
		{http.MethodDelete, "/api/v1/jwt/evict/data-processor"},
		{http.MethodGet, "/api/v1/jwt/status/data-processor"},
	} {
		rec := request(h, r.method, r.path, "X-API-Key", keyKYC)
		if rec.Code != http.StatusForbidden {
			t.Fatalf("%s %s: %d %s", r.method, r.path, rec.Code, rec.Body)
		}
		body := decode(t, rec.Body.Bytes())
		if body["error"] != "forbidden" || body["serviceName"] != "data-processor" {
			t.Errorf("body %v", body)
		}
		if rec.Header().Get("WWW-Authenticate") != "" {
			t.Error("a 403 carries a challenge")
		}
	}
	if auth.Forbidden() != 5 || auth.Failures() != 0 {
		t.Errorf("Forbidden() = %d, Failures() = %d, want 5 and 0", auth.Forbidden(), auth.Failures())
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the core was called %d times", n)
	}
	// The same key is good for its own service, and the unlimited key for
	// any; the endpoints without a service accept either.
	for _, c := range []struct{ key, path string }{
		{keyKYC, "/api/v1/jwt/token/kyc"}, {keyAll, "/api/v1/jwt/token/data-processor"},
		{keyKYC, "/api/v1/jwt/status"}, {keyKYC, "/api/v1/jwt/statistics"},
	} {
		if rec := request(h, http.MethodGet, c.path, "X-API-Key", c.key); rec.Code != http.StatusOK {
			t.Errorf("%s: %d %s", c.path, rec.Code, rec.Body)
		}
	}
	assertNoKeys(t, logs.String())
}

func TestAuthMonitoringEndpoints(t *testing.T) {
	monitoring := []string{"/api/v1/jwt/status/kyc", "/api/v1/jwt/status", "/api/v1/jwt/statistics"}
	t.Run("open by default", func(t *testing.T) {
		h, auth, _, _ := authHandler(t, false)
		for _, p := range append(monitoring, "/api/v1/jwt/health") {
			if rec := request(h, http.MethodGet, p); rec.Code != http.StatusOK {
				t.Errorf("%s without a key: %d %s", p, rec.Code, rec.Body)
			}
		}
		if auth.Failures() != 0 {
			t.Errorf("Failures() = %d", auth.Failures())
		}
	})
	t.Run("protected on request, health still open", func(t *testing.T) {
		h, auth, _, _ := authHandler(t, true)
		for _, p := range monitoring {
			if rec := request(h, http.MethodGet, p); rec.Code != http.StatusUnauthorized {
				t.Errorf("%s without a key: %d", p, rec.Code)
			}
			if rec := request(h, http.MethodGet, p, "Authorization", "Bearer "+keyAll); rec.Code != http.StatusOK {
				t.Errorf("%s with a key: %d", p, rec.Code)
			}
		}
		if rec := request(h, http.MethodGet, "/api/v1/jwt/health"); rec.Code != http.StatusOK {
			t.Errorf("health without a key: %d", rec.Code)
		}
		if auth.Failures() != uint64(len(monitoring)) {
			t.Errorf("Failures() = %d", auth.Failures())
		}
	})
	t.Run("unknown routes and wrong methods answer as before", func(t *testing.T) {
		h, auth, _, _ := authHandler(t, true)
		if rec := request(h, http.MethodGet, "/api/v1/jwt/nope"); rec.Code != http.StatusNotFound {
			t.Errorf("unknown route: %d", rec.Code)
		}
		if rec := request(h, http.MethodPost, "/api/v1/jwt/token/kyc"); rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("wrong method: %d", rec.Code)
		}
		if auth.Failures() != 0 {
			t.Errorf("Failures() = %d", auth.Failures())
		}
	})
}

func TestNewAuthWithoutKeys(t *testing.T) {
	logs := &syncBuffer{}
	auth, err := NewAuth(AuthOptions{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if auth != nil || err != nil {
		t.Fatalf("NewAuth() = %v, %v; want nil, nil", auth, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "open to every client") {
		t.Errorf("no warning that the endpoints are open: %s", logs)
	}
	if auth.Failures() != 0 || auth.Forbidden() != 0 {
		t.Error("a nil Auth counts")
	}
	h := NewHandler(&fakeService{}, Options{Auth: auth})
	if rec := request(h, http.MethodGet, "/api/v1/jwt/token/kyc"); rec.Code != http.StatusOK {
		t.Errorf("open API: %d", rec.Code)
	}
}

func TestNewAuthValidates(t *testing.T) {
	for name, keys := range map[string][]APIKey{
		"short":       {{Key: keyAll}, {Key: "short-" + keyGone[:5]}},
		"empty":       {{Key: ""}},
		"bad service": {{Key: keyAll, Services: []string{"KYC"}}},
	} {
		_, err := NewAuth(AuthOptions{Keys: keys, Logger: discardLogger})
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if !strings.HasPrefix(err.Error(), "rest: API key ") {
			t.Errorf("%s: error %q does not name the key's position", name, err)
		}
		assertNoKeys(t, err.Error())
		if strings.Contains(err.Error(), keyGone[:5]) {
			t.Errorf("%s: error repeats the key: %v", name, err)
		}
	}
}

// TestAuthMatch checks the constant-time comparison's answers: every key
// is looked at, so duplicates combine, and nothing but the exact key
// matches, whatever its length.
func TestAuthMatch(t *testing.T) {
	auth, err := NewAuth(AuthOptions{Logger: discardLogger, Keys: []APIKey{
		{Key: keyKYC, Services: []string{"kyc"}},
		{Key: keyAll, Services: []string{"reports"}},
		{Key: keyAll, Services: []string{"kyc", "data-processor"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		presented, service string
		known, allowed     bool
	}{
		{keyKYC, "kyc", true, true},
		{keyKYC, "reports", true, false},
		{keyKYC, "", true, true},
		{keyAll, "reports", true, true},        // first of its entries
		{keyAll, "data-processor", true, true}, // second of its entries
		{keyAll, "kyc", true, true},
		{keyAll, "billing", true, false},
		{keyGone, "kyc", false, false},
		{"", "kyc", false, false},
		{keyKYC[:len(keyKYC)-1], "kyc", false, false},
		{keyKYC + keyKYC, "kyc", false, false},
		{strings.ToUpper(keyKYC), "kyc", false, false},
	}
	for _, tt := range tests {
		known, allowed := auth.match(tt.presented, tt.service)
		if known != tt.known || allowed != tt.allowed {
			t.Errorf("match(key %d chars, %q) = %v, %v; want %v, %v", len(tt.presented), tt.service, known, allowed, tt.known, tt.allowed)
		}
	}
	// The digests are keyed per process: two Auths with the same keys hold
	// different digests, so a digest says nothing outside its process.
	other, _ := NewAuth(AuthOptions{Logger: discardLogger, Keys: []APIKey{{Key: keyKYC}}})
	if other.keys()[0].digest == auth.keys()[0].digest {
		t.Error("digests are not keyed per Auth")
	}
	for _, k := range auth.keys() {
		if strings.Contains(string(k.digest[:]), keyKYC) {
			t.Error("a key is held in clear")
		}
	}
}

func assertNoKeys(t *testing.T, s string) {
	t.Helper()
	for _, k := range []string{keyAll, keyKYC, keyGone} {
		if strings.Contains(s, k) {
			t.Errorf("an API key appears in: %s", s)
		}
	}
}

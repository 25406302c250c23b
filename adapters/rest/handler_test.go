package rest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// syncBuffer is a log sink safe for the server tests' goroutines.
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

// newTestHandler returns the handler over svc with the fixed clock and a
// debug-level logger writing to the returned buffer.
func newTestHandler(svc Cache, mw ...gin.HandlerFunc) (http.Handler, *syncBuffer) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return NewHandler(svc, Options{Logger: logger, Clock: fixedClock{testNow}, Middleware: mw}), logs
}

// do serves one request and decodes the body, which must be one JSON
// object, keeping numbers as json.Number so integers can be told apart.
func do(t *testing.T, h http.Handler, method, path string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("%s %s: Content-Type = %q, body %q", method, path, ct, rec.Body.String())
	}
	return rec, decode(t, rec.Body.Bytes())
}

func decode(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %q", err, body)
	}
	if dec.More() {
		t.Fatalf("trailing data after the JSON object: %q", body)
	}
	return m
}

// kind is the JSON type a field must have.
type kind int

const (
	kString kind = iota
	kInt
	kNumber
	kBool
	kTime // RFC 3339, UTC, whole seconds
	kObject
)

var timeRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$`)

// checkFields asserts that m has exactly the fields of want, each of the
// given type.
func checkFields(t *testing.T, m map[string]any, want map[string]kind) {
	t.Helper()
	for k := range m {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected field %q = %v", k, m[k])
		}
	}
	for k, kd := range want {
		v, ok := m[k]
		if !ok {
			t.Errorf("missing field %q", k)
			continue
		}
		if !hasKind(v, kd) {
			t.Errorf("field %q = %#v: wrong type, want kind %d", k, v, kd)
		}
	}
}

func hasKind(v any, kd kind) bool {
	switch kd {
	case kString:
		_, ok := v.(string)
		return ok
	case kInt:
		n, ok := v.(json.Number)
		_, err := n.Int64()
		return ok && err == nil
	case kNumber:
		n, ok := v.(json.Number)
		_, err := n.Float64()
		return ok && err == nil
	case kBool:
		_, ok := v.(bool)
		return ok
	case kTime:
		s, ok := v.(string)
		if !ok || !timeRE.MatchString(s) {
			return false
		}
		_, err := time.Parse(time.RFC3339, s)
		return err == nil
	case kObject:
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

// contains asserts that got holds every field of want with the same value,
// recursively; got may have more. It is how the guide's examples are
// checked: extra fields are allowed, missing or different ones are not.
func contains(t *testing.T, got, want any, path string) {
	t.Helper()
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			t.Errorf("%s: got %#v, want an object", path, got)
			return
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				t.Errorf("%s.%s: missing", path, k)
				continue
			}
			contains(t, gv, wv, path+"."+k)
		}
	default:
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
}

// guideExample decodes one of the guide's response examples, with the
// elided token replaced by the fake's.
func guideExample(t *testing.T, example string) map[string]any {
	t.Helper()
	return decode(t, []byte(strings.ReplaceAll(example, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...", secretToken)))
}

// statusFields are the fields describing a cached token.
var statusFields = map[string]kind{
	"tokenType": kString, "expiresIn": kInt, "scope": kString,
	"issuedAt": kTime, "expiresAt": kTime, "cacheExpiresAt": kTime,
	"secondsUntilExpiry": kInt, "secondsUntilCacheExpiry": kInt,
	"isExpired": kBool, "isCacheExpired": kBool, "needsRenewal": kBool, "isRenewing": kBool,
}

func with(base map[string]kind, extra map[string]kind) map[string]kind {
	m := make(map[string]kind, len(base)+len(extra))
	for k, v := range base {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func TestTokenEndpoint(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkFields(t, body, with(statusFields, map[string]kind{
		"serviceName": kString, "accessToken": kString, "timestamp": kTime,
	}))
	contains(t, body, guideExample(t, `{
  "serviceName": "kyc",
  "accessToken": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...",
  "tokenType": "Bearer",
  "expiresIn": 3600,
  "scope": "api.read api.write",
  "issuedAt": "2024-01-15T10:30:00Z",
  "expiresAt": "2024-01-15T11:30:00Z",
  "cacheExpiresAt": "2024-01-15T11:29:40Z",
  "secondsUntilExpiry": 3600,
  "secondsUntilCacheExpiry": 3580,
  "needsRenewal": false,
  "isRenewing": false,
  "timestamp": "2024-01-15T10:30:00Z"
}`), "token")
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// TestTokenEndpointTimes checks that times are written in UTC with whole
// seconds whatever zone and precision the core uses.
func TestTokenEndpointTimes(t *testing.T) {
	zone := time.FixedZone("CET", 3600)
	issued := time.Date(2024, 1, 15, 11, 30, 0, 999_999_999, zone) // 10:30:00.999Z
	svc := &fakeService{token: func(context.Context, string) (domain.Token, error) {
		tok := guideToken()
		tok.IssuedAt, tok.ExpiresAt = issued, issued.Add(3600*time.Second)
		return tok, nil
	}}
	h, _ := newTestHandler(svc)
	_, body := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
	if body["issuedAt"] != "2024-01-15T10:30:00Z" || body["expiresAt"] != "2024-01-15T11:30:00Z" {
		t.Errorf("issuedAt, expiresAt = %v, %v", body["issuedAt"], body["expiresAt"])
	}
}

func TestBearerEndpoint(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/bearer/kyc")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkFields(t, body, map[string]kind{"serviceName": kString, "bearerToken": kString, "timestamp": kTime})
	contains(t, body, guideExample(t, `{
  "serviceName": "kyc",
  "bearerToken": "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...",
  "timestamp": "2024-01-15T10:30:00Z"
}`), "bearer")
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

func TestRefreshEndpoint(t *testing.T) {
	var refreshed string
	svc := &fakeService{refresh: func(_ context.Context, service string) (domain.Token, error) {
		refreshed = service
		return guideToken(), nil
	}}
	h, _ := newTestHandler(svc)
	rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if refreshed != "kyc" {
		t.Errorf("Refresh called for %q, want kyc", refreshed)
	}
	checkFields(t, body, with(statusFields, map[string]kind{
		"serviceName": kString, "message": kString, "accessToken": kString, "timestamp": kTime,
	}))
	contains(t, body, guideExample(t, `{
  "serviceName": "kyc",
  "message": "Token refreshed successfully",
  "accessToken": "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9...",
  "tokenType": "Bearer",
  "expiresIn": 3600,
  "issuedAt": "2024-01-15T10:30:00Z",
  "expiresAt": "2024-01-15T11:30:00Z",
  "timestamp": "2024-01-15T10:30:00Z"
}`), "refresh")
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
}

// TestRefreshEndpointSaysWhenItReusedARefresh: a refresh within the
// minimum interval is a 200 with the token and a message saying so.
func TestRefreshEndpointSaysWhenItReusedARefresh(t *testing.T) {
	h, _ := newTestHandler(&fakeService{refreshReused: true})
	rec, body := do(t, h, http.MethodPost, "/api/v1/jwt/refresh/kyc")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	contains(t, body, map[string]any{"serviceName": "kyc", "accessToken": secretToken,
		"message": "Token refreshed recently; returning the token from that refresh"}, "reused refresh")
}

func TestEvictEndpoint(t *testing.T) {
	t.Run("removed", func(t *testing.T) {
		h, _ := newTestHandler(&fakeService{})
		rec, body := do(t, h, http.MethodDelete, "/api/v1/jwt/evict/kyc")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		checkFields(t, body, with(statusFields, map[string]kind{
			"serviceName": kString, "evicted": kBool, "message": kString, "timestamp": kTime,
		}))
		contains(t, body, map[string]any{"serviceName": "kyc", "evicted": true, "message": "Token evicted",
			"expiresAt": "2024-01-15T11:30:00Z"}, "evict")
	})
	t.Run("nothing cached", func(t *testing.T) {
		svc := &fakeService{evict: func(_ context.Context, service string) (app.Eviction, error) {
			return app.Eviction{Service: service}, nil
		}}
		h, _ := newTestHandler(svc)
		rec, body := do(t, h, http.MethodDelete, "/api/v1/jwt/evict/kyc")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		checkFields(t, body, map[string]kind{
			"serviceName": kString, "evicted": kBool, "message": kString, "timestamp": kTime,
		})
		contains(t, body, map[string]any{"serviceName": "kyc", "evicted": false, "message": "No cached token",
			"timestamp": "2024-01-15T10:30:00Z"}, "evict")
	})
}

func TestStatusEndpoint(t *testing.T) {
	t.Run("cached", func(t *testing.T) {
		h, _ := newTestHandler(&fakeService{})
		rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status/kyc")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		checkFields(t, body, with(statusFields, map[string]kind{
			"serviceName": kString, "exists": kBool, "timestamp": kTime,
		}))
		contains(t, body, guideExample(t, `{
  "serviceName": "kyc",
  "exists": true,
  "tokenType": "Bearer",
  "expiresIn": 3600,
  "issuedAt": "2024-01-15T10:30:00Z",
  "expiresAt": "2024-01-15T11:30:00Z",
  "cacheExpiresAt": "2024-01-15T11:29:40Z",
  "secondsUntilExpiry": 3600,
  "secondsUntilCacheExpiry": 3580,
  "isExpired": false,
  "isCacheExpired": false,
  "needsRenewal": false,
  "isRenewing": false,
  "timestamp": "2024-01-15T10:30:00Z"
}`), "status")
	})
	t.Run("due and renewing", func(t *testing.T) {
		svc := &fakeService{status: func(_ context.Context, service string) (app.TokenStatus, error) {
			st := describe(service, guideToken())
			st.State, st.Renewing = domain.Due, true
			return st, nil
		}}
		h, _ := newTestHandler(svc)
		_, body := do(t, h, http.MethodGet, "/api/v1/jwt/status/kyc")
		contains(t, body, map[string]any{"isExpired": false, "isCacheExpired": true,
			"needsRenewal": true, "isRenewing": true}, "status")
	})
	t.Run("nothing cached", func(t *testing.T) {
		svc := &fakeService{status: func(_ context.Context, service string) (app.TokenStatus, error) {
			return app.TokenStatus{Service: service, At: testNow}, nil
		}}
		h, _ := newTestHandler(svc)
		rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status/kyc")
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		checkFields(t, body, map[string]kind{"serviceName": kString, "exists": kBool, "timestamp": kTime})
		contains(t, body, map[string]any{"serviceName": "kyc", "exists": false}, "status")
	})
}

func TestStatusesEndpoint(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkFields(t, body, map[string]kind{"timestamp": kTime, "totalTokens": kInt, "tokens": kObject})
	tokens := body["tokens"].(map[string]any)
	for name, v := range tokens {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("tokens.%s is %T", name, v)
		}
		checkFields(t, m, statusFields)
	}
	guideToken := `{
      "tokenType": "Bearer",
      "expiresIn": 3600,
      "issuedAt": "2024-01-15T10:30:00Z",
      "expiresAt": "2024-01-15T11:30:00Z",
      "cacheExpiresAt": "2024-01-15T11:29:40Z",
      "secondsUntilExpiry": 3600,
      "secondsUntilCacheExpiry": 3580,
      "isExpired": false,
      "isCacheExpired": false,
      "needsRenewal": false,
      "isRenewing": false
    }`
	contains(t, body, guideExample(t, `{
  "timestamp": "2024-01-15T10:30:00Z",
  "totalTokens": 2,
  "tokens": {"kyc": `+guideToken+`, "data-processor": `+guideToken+`}
}`), "statuses")
	if len(tokens) != 2 {
		t.Errorf("tokens has %d entries, want 2", len(tokens))
	}
	// Sorted by name, so the document is stable.
	if i, j := strings.Index(rec.Body.String(), `"data-processor"`), strings.Index(rec.Body.String(), `"kyc"`); i > j {
		t.Errorf("tokens not sorted by name: %s", rec.Body)
	}
}

func TestStatusesEndpointEmpty(t *testing.T) {
	svc := &fakeService{statuses: func(context.Context) (app.Statuses, error) {
		return app.Statuses{At: testNow}, nil
	}}
	h, _ := newTestHandler(svc)
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/status")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	contains(t, body, map[string]any{"totalTokens": json.Number("0"), "tokens": map[string]any{}}, "statuses")
	if len(body["tokens"].(map[string]any)) != 0 {
		t.Errorf("tokens = %v, want empty", body["tokens"])
	}
}

func TestStatisticsEndpoint(t *testing.T) {
	h, _ := newTestHandler(&fakeService{})
	rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/statistics")
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	checkFields(t, body, map[string]kind{
		"timestamp": kTime, "totalTokens": kInt, "activeTokens": kInt, "expiredTokens": kInt, "renewingTokens": kInt,
		"cacheHits": kInt, "cacheMisses": kInt, "hitRatio": kNumber, "hitRatioPercent": kNumber,
		"tokenServiceRequests": kInt, "tokenServiceFailures": kInt, "renewals": kInt, "renewalFailures": kInt,
		"forcedRefreshes": kInt, "evictions": kInt,
		// Not in the guide: the limits'.
		"serviceLimitRefusals": kInt, "rateLimitRefusals": kInt, "reusedRefreshes": kInt,
	})
	contains(t, body, map[string]any{
		"timestamp": "2024-01-15T10:30:00Z", "totalTokens": 3, "activeTokens": 3, "expiredTokens": 0,
		"renewingTokens": 1, "cacheHits": 95, "cacheMisses": 5, "hitRatio": 0.95, "hitRatioPercent": 95,
		"tokenServiceRequests": 7, "tokenServiceFailures": 1, "renewals": 4, "renewalFailures": 1,
		"forcedRefreshes": 2, "evictions": 1,
		"serviceLimitRefusals": 19000, "rateLimitRefusals": 3, "reusedRefreshes": 99,
	}, "statistics")
}

func TestStatisticsHitRatioBeforeFirstRequest(t *testing.T) {
	svc := &fakeService{statistics: func(context.Context) (app.Statistics, error) {
		return app.Statistics{At: testNow}, nil
	}}
	h, _ := newTestHandler(svc)
	_, body := do(t, h, http.MethodGet, "/api/v1/jwt/statistics")
	contains(t, body, map[string]any{"hitRatio": 0, "hitRatioPercent": 0}, "statistics")
}

func TestHealthEndpoint(t *testing.T) {
	component := map[string]kind{"status": kString}
	componentWithDetail := map[string]kind{"status": kString, "detail": kString}
	tests := []struct {
		name        string
		health      app.Health
		wantCode    int
		wantHealthy bool
		store, iss  map[string]kind
	}{
		{
			name: "up",
			health: app.Health{At: testNow, Status: app.StatusUp,
				Store: app.ComponentHealth{Status: app.StatusUp}, TokenService: app.ComponentHealth{Status: app.StatusUp}},
			wantCode: http.StatusOK, wantHealthy: true, store: component, iss: component,
		},
		{
			name: "degraded",
			health: app.Health{At: testNow, Status: app.StatusDegraded,
				Store:        app.ComponentHealth{Status: app.StatusUp},
				TokenService: app.ComponentHealth{Status: app.StatusDown, Detail: "connection refused"}},
			wantCode: http.StatusOK, wantHealthy: true, store: component, iss: componentWithDetail,
		},
		{
			name: "down",
			health: app.Health{At: testNow, Status: app.StatusDown,
				Store:        app.ComponentHealth{Status: app.StatusDown, Detail: "redis: connection refused"},
				TokenService: app.ComponentHealth{Status: app.StatusDown, Detail: "timeout"}},
			wantCode: http.StatusServiceUnavailable, wantHealthy: false, store: componentWithDetail, iss: componentWithDetail,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newTestHandler(&fakeService{health: func(context.Context) app.Health { return tt.health }})
			rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/health")
			if rec.Code != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantCode, rec.Body)
			}
			checkFields(t, body, map[string]kind{"timestamp": kTime, "healthy": kBool, "status": kString, "components": kObject})
			contains(t, body, map[string]any{"timestamp": "2024-01-15T10:30:00Z", "healthy": tt.wantHealthy,
				"status": string(tt.health.Status)}, "health")
			components := body["components"].(map[string]any)
			checkFields(t, components, map[string]kind{"store": kObject, "tokenService": kObject})
			checkFields(t, components["store"].(map[string]any), tt.store)
			checkFields(t, components["tokenService"].(map[string]any), tt.iss)
			contains(t, components, map[string]any{
				"store":        map[string]any{"status": string(tt.health.Store.Status)},
				"tokenService": map[string]any{"status": string(tt.health.TokenService.Status)},
			}, "components")
		})
	}
}

// errorFields is the one error shape.
var errorFields = map[string]kind{"error": kString, "message": kString, "timestamp": kTime}

func TestErrorMapping(t *testing.T) {
	const libraryText = "pq: internal state 0xc000123456 at conn.go:42"
	failWith := func(err error) *fakeService {
		f := func(context.Context, string) (domain.Token, error) { return domain.Token{}, err }
		return &fakeService{token: f, refresh: f}
	}
	tests := []struct {
		name       string
		svc        *fakeService
		method     string
		path       string
		wantStatus int
		wantCode   string
		// wantService is the serviceName field; "" means absent.
		wantService string
		wantTSError string
		wantRetry   string
		wantMessage string // substring
		notInBody   string
	}{
		{
			name: "uppercase name", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/token/KYC",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: "KYC",
			wantMessage: "must start with a lowercase letter",
		},
		{
			name: "leading hyphen on bearer", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/bearer/-x",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: "-x",
		},
		{
			name: "bad name on refresh", svc: &fakeService{}, method: http.MethodPost, path: "/api/v1/jwt/refresh/kyc_svc",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: "kyc_svc",
		},
		{
			name: "bad name on evict", svc: &fakeService{}, method: http.MethodDelete, path: "/api/v1/jwt/evict/kyc-",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: "kyc-",
		},
		{
			name: "bad name on status", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/status/KYC",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: "KYC",
		},
		{
			name:   "name with markup is escaped",
			svc:    &fakeService{},
			method: http.MethodGet, path: "/api/v1/jwt/token/%3Cscript%3E%22",
			wantStatus: 400, wantCode: "invalid_service_name", wantService: `<script>"`, notInBody: "<script>",
		},
		{
			name:   "unknown service",
			svc:    failWith(fmt.Errorf("app: token for %q: %w", "ghost", domain.ErrUnknownService)),
			method: http.MethodGet, path: "/api/v1/jwt/token/ghost",
			wantStatus: 404, wantCode: "unknown_service", wantService: "ghost",
		},
		{
			name: "rejected",
			svc: failWith(fmt.Errorf("app: %w", &domain.TokenServiceError{Kind: domain.Rejected, Service: "kyc",
				Code: "invalid_client", Description: "Client authentication failed", HTTPStatus: 401})),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 502, wantCode: "token_service_rejected", wantService: "kyc", wantTSError: "invalid_client",
			wantMessage: "Client authentication failed",
		},
		{
			name: "rejected 429 with Retry-After",
			svc: failWith(&domain.TokenServiceError{Kind: domain.Rejected, Code: "slow_down", HTTPStatus: 429,
				RetryAfter: 1500 * time.Millisecond}),
			method: http.MethodPost, path: "/api/v1/jwt/refresh/kyc",
			wantStatus: 502, wantCode: "token_service_rejected", wantService: "kyc", wantTSError: "slow_down",
			wantRetry: "2",
		},
		{
			name: "bad response 503 with Retry-After",
			svc: failWith(&domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: 503,
				RetryAfter: 30 * time.Second, Err: errors.New(libraryText)}),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 502, wantCode: "token_service_bad_response", wantService: "kyc", wantRetry: "30",
			wantMessage: "HTTP 503", notInBody: libraryText,
		},
		{
			name: "unreachable",
			svc: failWith(&domain.TokenServiceError{Kind: domain.Unreachable,
				Err: errors.New("dial tcp 10.1.2.3:443: connect: connection refused")}),
			method: http.MethodGet, path: "/api/v1/jwt/bearer/kyc",
			wantStatus: 503, wantCode: "token_service_unavailable", wantService: "kyc", notInBody: "10.1.2.3",
		},
		{
			name: "token service timeout",
			svc: failWith(&domain.TokenServiceError{Kind: domain.Timeout,
				Err: fmt.Errorf("post: %w", context.DeadlineExceeded)}),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 504, wantCode: "token_service_timeout", wantService: "kyc",
		},
		{
			name:   "deadline exceeded",
			svc:    failWith(fmt.Errorf("app: waiting for renewal: %w", context.DeadlineExceeded)),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 504, wantCode: "timeout", wantService: "kyc",
		},
		{
			name:   "too many services",
			svc:    failWith(fmt.Errorf("app: %w", &domain.TooManyServicesError{Service: "svc-9f3a", Limit: 10000})),
			method: http.MethodGet, path: "/api/v1/jwt/token/svc-9f3a",
			wantStatus: 503, wantCode: "too_many_services", wantService: "svc-9f3a", wantMessage: "limit of 10000 service names",
		},
		{
			name:   "rate limited with Retry-After",
			svc:    failWith(fmt.Errorf("app: %w", &domain.RateLimitedError{Service: "kyc", RetryAfter: 50 * time.Millisecond})),
			method: http.MethodPost, path: "/api/v1/jwt/refresh/kyc",
			wantStatus: 429, wantCode: "rate_limited", wantService: "kyc", wantRetry: "1", wantMessage: "Retry-After",
		},
		{
			name:   "closed",
			svc:    failWith(fmt.Errorf("app: %w", domain.ErrClosed)),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 503, wantCode: "shutting_down", wantService: "kyc",
		},
		{
			name:   "canceled",
			svc:    failWith(context.Canceled),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 499, wantCode: "request_canceled", wantService: "kyc",
		},
		{
			name:   "unknown error",
			svc:    failWith(errors.New(libraryText)),
			method: http.MethodGet, path: "/api/v1/jwt/token/kyc",
			wantStatus: 500, wantCode: "internal_error", wantService: "kyc", wantMessage: "internal error",
			notInBody: "0xc000123456",
		},
		{
			name: "unknown error on statuses",
			svc: &fakeService{statuses: func(context.Context) (app.Statuses, error) {
				return app.Statuses{}, errors.New(libraryText)
			}},
			method: http.MethodGet, path: "/api/v1/jwt/status",
			wantStatus: 500, wantCode: "internal_error", notInBody: "0xc000123456",
		},
		{
			name: "store timeout on statistics",
			svc: &fakeService{statistics: func(context.Context) (app.Statistics, error) {
				return app.Statistics{}, fmt.Errorf("redisstore: list: %w", context.DeadlineExceeded)
			}},
			method: http.MethodGet, path: "/api/v1/jwt/statistics",
			wantStatus: 504, wantCode: "timeout",
		},
		{
			name: "unknown route", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/nope",
			wantStatus: 404, wantCode: "not_found",
		},
		{
			name: "unknown file at the root", svc: &fakeService{}, method: http.MethodGet, path: "/favicon.ico",
			wantStatus: 404, wantCode: "not_found",
		},
		{
			name: "empty service name", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/token/",
			wantStatus: 404, wantCode: "not_found",
		},
		{
			name: "trailing slash is not redirected", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/health/",
			wantStatus: 404, wantCode: "not_found",
		},
		{
			name: "extra segment", svc: &fakeService{}, method: http.MethodGet, path: "/api/v1/jwt/token/kyc/more",
			wantStatus: 404, wantCode: "not_found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newTestHandler(tt.svc)
			rec, body := do(t, h, tt.method, tt.path)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			want := with(errorFields, nil)
			if tt.wantService != "" {
				want["serviceName"] = kString
			}
			if tt.wantTSError != "" {
				want["tokenServiceError"] = kString
			}
			checkFields(t, body, want)
			if body["error"] != tt.wantCode {
				t.Errorf("error = %v, want %s", body["error"], tt.wantCode)
			}
			if tt.wantService != "" && body["serviceName"] != tt.wantService {
				t.Errorf("serviceName = %v, want %s", body["serviceName"], tt.wantService)
			}
			if tt.wantTSError != "" && body["tokenServiceError"] != tt.wantTSError {
				t.Errorf("tokenServiceError = %v, want %s", body["tokenServiceError"], tt.wantTSError)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("message = %q, want it to contain %q", msg, tt.wantMessage)
			}
			if body["timestamp"] != "2024-01-15T10:30:00Z" {
				t.Errorf("timestamp = %v", body["timestamp"])
			}
			if tt.notInBody != "" && strings.Contains(rec.Body.String(), tt.notInBody) {
				t.Errorf("body leaks %q: %s", tt.notInBody, rec.Body)
			}
			if tt.wantCode == "internal_error" {
				// What the client is not told, the log must tell.
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "0xc000123456") {
					t.Errorf("internal error not logged at error level: %s", logs)
				}
			} else if strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("routine error logged at error level: %s", logs)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, path, allow string
	}{
		{http.MethodPost, "/api/v1/jwt/token/kyc", "GET"},
		{http.MethodGet, "/api/v1/jwt/refresh/kyc", "POST"},
		{http.MethodGet, "/api/v1/jwt/evict/kyc", "DELETE"},
		{http.MethodPut, "/api/v1/jwt/health", "GET"},
		{http.MethodDelete, "/api/v1/jwt/status", "GET"},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			h, _ := newTestHandler(&fakeService{})
			rec, body := do(t, h, tt.method, tt.path)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			checkFields(t, body, errorFields)
			if body["error"] != "method_not_allowed" {
				t.Errorf("error = %v", body["error"])
			}
			if got := rec.Header().Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q, want %q", got, tt.allow)
			}
		})
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	const panicText = "runtime secret-ish panic text"
	tests := []struct {
		name string
		svc  *fakeService
		mw   []gin.HandlerFunc
		path string
	}{
		{name: "in the core", svc: &fakeService{panics: panicText}, path: "/api/v1/jwt/token/kyc"},
		{name: "with an error value", svc: &fakeService{panics: errors.New(panicText)}, path: "/api/v1/jwt/health"},
		{
			name: "in a middleware", svc: &fakeService{}, path: "/api/v1/jwt/statistics",
			mw: []gin.HandlerFunc{func(*gin.Context) { panic(panicText) }},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, logs := newTestHandler(tt.svc, tt.mw...)
			rec, body := do(t, h, http.MethodGet, tt.path)
			if rec.Code != http.StatusInternalServerError {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if body["error"] != "internal_error" {
				t.Errorf("error = %v", body["error"])
			}
			if strings.Contains(rec.Body.String(), panicText) {
				t.Errorf("body leaks the panic: %s", rec.Body)
			}
			if !strings.Contains(logs.String(), "handler panicked") || !strings.Contains(logs.String(), panicText) {
				t.Errorf("panic not logged: %s", logs)
			}
			// The request log, outside recovery, sees the 500.
			if !strings.Contains(logs.String(), "status=500") {
				t.Errorf("request log misses the 500: %s", logs)
			}
		})
	}
}

func TestMiddlewareHook(t *testing.T) {
	var called bool
	svc := &fakeService{token: func(context.Context, string) (domain.Token, error) {
		called = true
		return guideToken(), nil
	}}
	deny := func(c *gin.Context) {
		if c.GetHeader("Authorization") == "" {
			c.AbortWithStatusJSON(http.StatusUnauthorized, gin.H{"error": "unauthorized"})
		}
	}
	h, _ := newTestHandler(svc, deny)
	rec, _ := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
	if rec.Code != http.StatusUnauthorized || called {
		t.Errorf("status %d, core called %v: the middleware did not run first", rec.Code, called)
	}
}

// TestTokenNeverLeaks checks that the credential appears only in the
// token endpoints' bodies: not in any other answer, and in no log line.
func TestTokenNeverLeaks(t *testing.T) {
	h, logs := newTestHandler(&fakeService{})
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/jwt/status/kyc"},
		{http.MethodGet, "/api/v1/jwt/status"},
		{http.MethodDelete, "/api/v1/jwt/evict/kyc"},
		{http.MethodGet, "/api/v1/jwt/statistics"},
		{http.MethodGet, "/api/v1/jwt/health"},
		{http.MethodPost, "/api/v1/jwt/token/kyc"}, // 405
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		if strings.Contains(rec.Body.String(), secretToken) {
			t.Errorf("%s %s leaks the token: %s", r.method, r.path, rec.Body)
		}
	}
	// The token endpoints do carry it, but never into the log.
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/jwt/token/kyc"},
		{http.MethodGet, "/api/v1/jwt/bearer/kyc"},
		{http.MethodPost, "/api/v1/jwt/refresh/kyc"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		if !strings.Contains(rec.Body.String(), secretToken) {
			t.Fatalf("%s %s: no token in %s", r.method, r.path, rec.Body)
		}
	}
	if !strings.Contains(logs.String(), "route=/api/v1/jwt/token/:serviceName") {
		t.Errorf("the debug request log is missing: %s", logs)
	}
	if strings.Contains(logs.String(), secretToken) || strings.Contains(logs.String(), "sig-S3CR3T") {
		t.Errorf("a log line holds the token: %s", logs)
	}
}

func TestRequestLogOffAboveDebug(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	h := NewHandler(&fakeService{}, Options{Logger: logger})
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/api/v1/jwt/token/kyc", nil))
	if logs.String() != "" {
		t.Errorf("logged at info level: %s", logs)
	}
}

func TestNewHandlerDefaults(t *testing.T) {
	// No clock, no logger: the system clock stamps errors.
	h := NewHandler(&fakeService{}, Options{})
	before := time.Now().Add(-time.Second)
	_, body := do(t, h, http.MethodGet, "/nope")
	ts, err := time.Parse(time.RFC3339, body["timestamp"].(string))
	if err != nil || ts.Before(before.Truncate(time.Second)) {
		t.Errorf("timestamp %v (%v) is not now", body["timestamp"], err)
	}
	if gin.Mode() != gin.ReleaseMode {
		t.Errorf("gin mode %q, want release", gin.Mode())
	}
}

// TestStatusesEndpointEscapesNames: service names come back from a shared
// store, so one that was never validated must not break the document.
func TestStatusesEndpointEscapesNames(t *testing.T) {
	const odd = `x","injected":{"a`
	svc := &fakeService{statuses: func(context.Context) (app.Statuses, error) {
		return app.Statuses{At: testNow, Tokens: []app.TokenStatus{describe(odd, guideToken())}}, nil
	}}
	h, _ := newTestHandler(svc)
	_, body := do(t, h, http.MethodGet, "/api/v1/jwt/status")
	tokens := body["tokens"].(map[string]any)
	if _, ok := tokens[odd]; !ok || len(tokens) != 1 {
		t.Errorf("tokens = %v, want the one odd name", tokens)
	}
}

package rest

import (
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/openapitest"
	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

func loadOpenAPI(t *testing.T) *openapitest.Doc {
	t.Helper()
	doc, err := openapitest.Load(OpenAPI())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// metricsStub stands in for the Prometheus handler.
var metricsStub = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte("# HELP up 1\nup 1\n"))
})

// TestOpenAPIDescribesEveryRoute: the document's operations are exactly
// the routes the handler serves.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	h := NewHandler(&fakeService{}, Options{Logger: discardLogger, Metrics: metricsStub})
	var routes []string
	for _, r := range h.(*gin.Engine).Routes() {
		p := strings.ReplaceAll(r.Path, ":"+paramService, "{"+paramService+"}")
		routes = append(routes, r.Method+" "+p)
	}
	slices.Sort(routes)
	if ops := doc.Operations(); !slices.Equal(ops, routes) {
		t.Fatalf("the document's operations differ from the routes:\ndocument: %v\nroutes:   %v", ops, routes)
	}
}

// TestOpenAPIErrorCodes: the Error schema's enum is exactly the code*
// constants of errors.go, read from the source so a new code cannot be
// forgotten.
func TestOpenAPIErrorCodes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "restapi/restapi.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && strings.HasPrefix(vs.Names[0].Name, "Code") {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				codes = append(codes, s)
			}
		}
		return true
	})
	var raw struct {
		Components struct {
			Schemas struct {
				Error struct {
					Properties struct {
						Error struct {
							Enum []string `json:"enum"`
						} `json:"error"`
					} `json:"properties"`
				} `json:"Error"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI(), &raw); err != nil {
		t.Fatal(err)
	}
	documented := raw.Components.Schemas.Error.Properties.Error.Enum
	slices.Sort(codes)
	slices.Sort(documented)
	if len(codes) < 10 || !slices.Equal(codes, documented) {
		t.Fatalf("error codes in restapi %v, in the document %v", codes, documented)
	}
}

// TestOpenAPIMatchesAnswers calls every endpoint in every documented
// state, and every error the API can answer, and checks each answer
// against the document: the status is documented for the operation, and
// every field of the body is declared with its type, every required one
// present.
func TestOpenAPIMatchesAnswers(t *testing.T) {
	doc := loadOpenAPI(t)
	kyc := describe("kyc", guideToken())
	due := kyc
	due.State = domain.Due
	due.Renewing = true
	tse := func(e *domain.TokenServiceError) func(context.Context, string) (domain.Token, error) {
		return func(context.Context, string) (domain.Token, error) { return domain.Token{}, e }
	}
	fails := func(err error) func(context.Context, string) (domain.Token, error) {
		return func(context.Context, string) (domain.Token, error) { return domain.Token{}, err }
	}
	down := app.Health{At: testNow, Status: app.StatusDown,
		Store:        app.ComponentHealth{Status: app.StatusDown, Detail: "redis: connection refused"},
		TokenService: app.ComponentHealth{Status: app.StatusDown, Detail: "token service unreachable"}}
	degraded := down
	degraded.Status, degraded.Store = app.StatusDegraded, app.ComponentHealth{Status: app.StatusUp}

	tests := []struct {
		name         string
		svc          *fakeService
		auth         bool // keys configured, status protected
		draining     bool
		ended        bool // the client has gone: a stream answers what it has and ends
		method, path string
		headers      []string
		want         int
		wantCode     string // the error field, for errors
	}{
		{name: "token", method: "GET", path: "/api/v1/jwt/token/kyc", want: 200},
		{name: "token with empty scope", svc: &fakeService{token: func(context.Context, string) (domain.Token, error) {
			tok := guideToken()
			tok.Scope = ""
			return tok, nil
		}}, method: "GET", path: "/api/v1/jwt/token/kyc", want: 200},
		{name: "bearer", method: "GET", path: "/api/v1/jwt/bearer/kyc", want: 200},
		{name: "refresh", method: "POST", path: "/api/v1/jwt/refresh/kyc", want: 200},
		{name: "evict", method: "DELETE", path: "/api/v1/jwt/evict/kyc", want: 200},
		{name: "evict nothing", svc: &fakeService{evict: func(_ context.Context, s string) (app.Eviction, error) {
			return app.Eviction{Service: s}, nil
		}}, method: "DELETE", path: "/api/v1/jwt/evict/kyc", want: 200},
		{name: "status", method: "GET", path: "/api/v1/jwt/status/kyc", want: 200},
		{name: "status renewing", svc: &fakeService{status: func(context.Context, string) (app.TokenStatus, error) {
			return due, nil
		}}, method: "GET", path: "/api/v1/jwt/status/kyc", want: 200},
		{name: "status nothing cached", svc: &fakeService{status: func(_ context.Context, s string) (app.TokenStatus, error) {
			return app.TokenStatus{Service: s, At: testNow}, nil
		}}, method: "GET", path: "/api/v1/jwt/status/kyc", want: 200},
		{name: "statuses", method: "GET", path: "/api/v1/jwt/status", want: 200},
		{name: "statuses empty", svc: &fakeService{statuses: func(context.Context) (app.Statuses, error) {
			return app.Statuses{At: testNow}, nil
		}}, method: "GET", path: "/api/v1/jwt/status", want: 200},
		{name: "statuses paged", svc: fleetStatuses(withRenewal(inState("kyc", stateFresh)), withRenewal(inState("kyc-eu", stateFailing)),
			inState("ledger", stateRenewing), inState("billing", stateExpired)),
			method: "GET", path: "/api/v1/jwt/status?q=e&state=due,renewing,expired,failing&limit=2&offset=0", want: 200},
		{name: "statuses paged empty", method: "GET", path: "/api/v1/jwt/status?q=nothing", want: 200},
		{name: "statuses bad parameter", method: "GET", path: "/api/v1/jwt/status?limit=0", want: 400, wantCode: "invalid_parameter"},
		{name: "refresh without token", method: "POST", path: "/api/v1/jwt/refresh/kyc?includeToken=false", want: 200},
		{name: "refresh bad parameter", method: "POST", path: "/api/v1/jwt/refresh/kyc?includeToken=maybe", want: 400, wantCode: "invalid_parameter"},
		{name: "events", svc: &fakeService{feed: eventsFeed()}, ended: true, method: "GET", path: "/api/v1/jwt/events", want: 200},
		{name: "events without a feed", method: "GET", path: "/api/v1/jwt/events", want: 404, wantCode: "not_found"},
		{name: "events bad Last-Event-ID", svc: &fakeService{feed: eventsFeed()}, method: "GET", path: "/api/v1/jwt/events",
			headers: []string{"Last-Event-ID", "x"}, want: 400, wantCode: "invalid_parameter"},
		{name: "no key for events", auth: true, svc: &fakeService{feed: eventsFeed()}, method: "GET", path: "/api/v1/jwt/events",
			want: 401, wantCode: "unauthorized"},
		{name: "root", method: "GET", path: "/", want: 302},
		{name: "console redirect", method: "GET", path: "/ui", want: 302},
		{name: "console", method: "GET", path: "/ui/", want: 200},
		{name: "console script", method: "GET", path: "/ui/console.js", want: 200},
		{name: "console style", method: "GET", path: "/ui/console.css", want: 200},
		{name: "console icon", method: "GET", path: "/ui/favicon.svg", want: 200},
		{name: "console stays open", auth: true, method: "GET", path: "/ui/", want: 200},
		{name: "statistics", method: "GET", path: "/api/v1/jwt/statistics", want: 200},
		{name: "statistics partial", svc: &fakeService{statistics: func(context.Context) (app.Statistics, error) {
			return app.Statistics{At: testNow, TotalTokens: 1, ActiveTokens: 1, StoreError: "redisstore: list: context deadline exceeded"}, nil
		}}, method: "GET", path: "/api/v1/jwt/statistics", want: 200},
		{name: "statuses partial", svc: &fakeService{statuses: func(context.Context) (app.Statuses, error) {
			return app.Statuses{At: testNow, Tokens: []app.TokenStatus{kyc}, StoreError: "redisstore: list: context deadline exceeded"}, nil
		}}, method: "GET", path: "/api/v1/jwt/status", want: 200},
		{name: "status partial", svc: &fakeService{status: func(context.Context, string) (app.TokenStatus, error) {
			st := kyc
			st.StoreError = "redisstore: get \"kyc\": context deadline exceeded"
			return st, nil
		}}, method: "GET", path: "/api/v1/jwt/status/kyc", want: 200},
		{name: "status partial nothing cached", svc: &fakeService{status: func(_ context.Context, s string) (app.TokenStatus, error) {
			return app.TokenStatus{Service: s, At: testNow, StoreError: "redisstore: get \"kyc\": context deadline exceeded"}, nil
		}}, method: "GET", path: "/api/v1/jwt/status/kyc", want: 200},
		{name: "statistics before any request", svc: &fakeService{statistics: func(context.Context) (app.Statistics, error) {
			return app.Statistics{At: testNow}, nil
		}}, method: "GET", path: "/api/v1/jwt/statistics", want: 200},
		{name: "health up", method: "GET", path: "/api/v1/jwt/health", want: 200},
		{name: "health degraded", svc: &fakeService{health: func(context.Context) app.Health { return degraded }},
			method: "GET", path: "/api/v1/jwt/health", want: 200},
		{name: "health down", svc: &fakeService{health: func(context.Context) app.Health { return down }},
			method: "GET", path: "/api/v1/jwt/health", want: 503},
		{name: "openapi", method: "GET", path: "/api/v1/jwt/openapi.json", want: 200},
		{name: "livez", method: "GET", path: "/livez", want: 200},
		{name: "readyz", method: "GET", path: "/readyz", want: 200},
		{name: "readyz degraded", svc: &fakeService{health: func(context.Context) app.Health { return degraded }},
			method: "GET", path: "/readyz", want: 200},
		{name: "readyz down", svc: &fakeService{health: func(context.Context) app.Health { return down }},
			method: "GET", path: "/readyz", want: 503},
		{name: "readyz draining", draining: true, method: "GET", path: "/readyz", want: 503},
		{name: "livez draining", draining: true, method: "GET", path: "/livez", want: 200},
		{name: "metrics", method: "GET", path: "/metrics", want: 200},

		{name: "invalid name", method: "GET", path: "/api/v1/jwt/token/KYC", want: 400, wantCode: "invalid_service_name"},
		{name: "invalid name on status", method: "GET", path: "/api/v1/jwt/status/-x", want: 400, wantCode: "invalid_service_name"},
		{name: "no key", auth: true, method: "GET", path: "/api/v1/jwt/token/kyc", want: 401, wantCode: "unauthorized"},
		{name: "no key for status", auth: true, method: "GET", path: "/api/v1/jwt/status", want: 401, wantCode: "unauthorized"},
		{name: "no key for metrics", auth: true, method: "GET", path: "/metrics", want: 401, wantCode: "unauthorized"},
		{name: "key for metrics", auth: true, method: "GET", path: "/metrics", headers: []string{"X-API-Key", keyAll}, want: 200},
		{name: "key for another service", auth: true, method: "GET", path: "/api/v1/jwt/token/data-processor",
			headers: []string{"X-API-Key", keyKYC}, want: 403, wantCode: "forbidden"},
		{name: "key for another service's status", auth: true, method: "GET", path: "/api/v1/jwt/status/data-processor",
			headers: []string{"Authorization", "Bearer " + keyKYC}, want: 403, wantCode: "forbidden"},
		{name: "probes stay open", auth: true, method: "GET", path: "/readyz", want: 200},
		{name: "document stays open", auth: true, method: "GET", path: "/api/v1/jwt/openapi.json", want: 200},
		{name: "unknown service", svc: &fakeService{token: fails(fmtErr(domain.ErrUnknownService))},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 404, wantCode: "unknown_service"},
		{name: "rejected", svc: &fakeService{token: tse(&domain.TokenServiceError{Kind: domain.Rejected, Code: "invalid_client", HTTPStatus: 401, Description: "bad client"})},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 502, wantCode: "token_service_rejected"},
		{name: "bad response", svc: &fakeService{refresh: tse(&domain.TokenServiceError{Kind: domain.BadResponse, HTTPStatus: 200})},
			method: "POST", path: "/api/v1/jwt/refresh/kyc", want: 502, wantCode: "token_service_bad_response"},
		{name: "unreachable", svc: &fakeService{token: tse(&domain.TokenServiceError{Kind: domain.Unreachable, RetryAfter: 3 * time.Second})},
			method: "GET", path: "/api/v1/jwt/bearer/kyc", want: 503, wantCode: "token_service_unavailable"},
		{name: "token service timeout", svc: &fakeService{token: tse(&domain.TokenServiceError{Kind: domain.Timeout})},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 504, wantCode: "token_service_timeout"},
		{name: "request timeout", svc: &fakeService{token: fails(context.DeadlineExceeded)},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 504, wantCode: "timeout"},
		{name: "client went away", svc: &fakeService{token: fails(context.Canceled)},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 499, wantCode: "request_canceled"},
		{name: "refresh reused", svc: &fakeService{refreshReused: true}, method: "POST", path: "/api/v1/jwt/refresh/kyc", want: 200},
		{name: "too many services", svc: &fakeService{token: fails(&domain.TooManyServicesError{Service: "kyc", Limit: 10})},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 503, wantCode: "too_many_services"},
		{name: "rate limited", svc: &fakeService{token: fails(&domain.RateLimitedError{Service: "kyc", RetryAfter: time.Second})},
			method: "GET", path: "/api/v1/jwt/bearer/kyc", want: 429, wantCode: "rate_limited"},
		{name: "refresh rate limited", svc: &fakeService{refresh: fails(&domain.RateLimitedError{Service: "kyc", RetryAfter: time.Second})},
			method: "POST", path: "/api/v1/jwt/refresh/kyc", want: 429, wantCode: "rate_limited"},
		{name: "shutting down", svc: &fakeService{token: fails(domain.ErrClosed)},
			method: "GET", path: "/api/v1/jwt/token/kyc", want: 503, wantCode: "shutting_down"},
		{name: "internal", svc: &fakeService{evict: func(context.Context, string) (app.Eviction, error) {
			return app.Eviction{}, errors.New("redis: i/o timeout")
		}}, method: "DELETE", path: "/api/v1/jwt/evict/kyc", want: 500, wantCode: "internal_error"},
		{name: "panic", svc: &fakeService{panics: "boom"}, method: "GET", path: "/api/v1/jwt/statistics", want: 500, wantCode: "internal_error"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svc := tc.svc
			if svc == nil {
				svc = &fakeService{}
			}
			opts := Options{Logger: discardLogger, Clock: fixedClock{testNow}, Metrics: metricsStub, Readiness: &Readiness{}}
			if tc.auth {
				auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: keyAll}, {Key: keyKYC, Services: []string{"kyc"}}},
					ProtectStatus: true, Logger: discardLogger})
				if err != nil {
					t.Fatal(err)
				}
				opts.Auth = auth
			}
			if tc.draining {
				opts.Readiness.Drain()
			}
			req := httptest.NewRequest(tc.method, tc.path, nil)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				req.Header.Add(tc.headers[i], tc.headers[i+1])
			}
			if tc.ended {
				ctx, cancel := context.WithCancel(req.Context())
				cancel()
				req = req.WithContext(ctx)
			}
			rec := httptest.NewRecorder()
			NewHandler(svc, opts).ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
			if err := doc.CheckResponse(tc.method, tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
				checkEventData(t, doc, rec.Body.String(), 3)
			}
			if tc.wantCode != "" {
				var e struct{ Error string }
				_ = json.Unmarshal(rec.Body.Bytes(), &e)
				if e.Error != tc.wantCode {
					t.Fatalf("error %q, want %q", e.Error, tc.wantCode)
				}
				seen[tc.wantCode] = true
			}
			tmpl, _ := doc.Match(tc.path)
			seen[tc.method+" "+tmpl] = true
		})
	}
	for _, op := range doc.Operations() {
		if !seen[op] {
			t.Errorf("no case calls %s", op)
		}
	}

	// Unknown routes, wrong methods and requests with a body belong to no
	// operation: they must match the Error schema.
	for _, tc := range []struct{ method, path, code, body string }{
		{"GET", "/api/v1/jwt/nope", "not_found", ""},
		{"GET", "/metrics", "not_found", ""}, // no Metrics handler given
		{"POST", "/api/v1/jwt/token/kyc", "method_not_allowed", ""},
		{"DELETE", "/readyz", "method_not_allowed", ""},
		{"POST", "/api/v1/jwt/refresh/kyc", "request_body_not_allowed", "{}"},
	} {
		rec := httptest.NewRecorder()
		NewHandler(&fakeService{}, Options{Logger: discardLogger}).ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
		op := map[string]any{"responses": map[string]any{"default": map[string]any{"$ref": "#/components/responses/Error"}}}
		if err := doc.CheckOperationResponse(op, tc.method+" "+tc.path, rec.Code, rec.Header().Get("Content-Type"), rec.Body.Bytes()); err != nil {
			t.Error(err)
		}
		if !strings.Contains(rec.Body.String(), `"error":"`+tc.code+`"`) {
			t.Errorf("%s %s: %d %s, want %s", tc.method, tc.path, rec.Code, rec.Body, tc.code)
		}
		seen[tc.code] = true
	}
	// Too many streams: one open stream on a server allowing one.
	srv := eventServer(t, &fakeService{feed: eventsFeed()}, Options{EventStream: EventStreamOptions{MaxStreams: 1}})
	if _, resp := openStream(t, srv.URL); resp.StatusCode != http.StatusOK {
		t.Fatalf("first stream: %d", resp.StatusCode)
	}
	_, resp := openStream(t, srv.URL)
	body, _ := io.ReadAll(resp.Body)
	if err := doc.CheckResponse("GET", BasePath+EventsPath, resp.StatusCode, resp.Header.Get("Content-Type"), body); err != nil ||
		resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("second stream: %d %v", resp.StatusCode, err)
	}
	seen[restapi.CodeTooManyStreams] = true

	var raw map[string]any
	_ = json.Unmarshal(OpenAPI(), &raw)
	for _, code := range raw["components"].(map[string]any)["schemas"].(map[string]any)["Error"].(map[string]any)["properties"].(map[string]any)["error"].(map[string]any)["enum"].([]any) {
		if !seen[code.(string)] {
			t.Errorf("no case produces the error code %s", code)
		}
	}
}

// withRenewal is st as held by the answering replica, renewed before.
func withRenewal(st app.TokenStatus) app.TokenStatus {
	st.RenewAt = st.CacheExpiresAt.Add(-15 * time.Second)
	st.LastRenewal = st.IssuedAt
	return st
}

// eventsFeed holds one event of each shape.
func eventsFeed() *app.EventFeed {
	f := app.NewEventFeed(8, 8)
	f.Publish(app.Event{Type: app.EventObtained, Service: "kyc", At: testNow, ExpiresAt: testNow.Add(time.Hour)})
	f.Publish(app.Event{Type: app.EventRenewalFailed, Service: "kyc", At: testNow, Failure: "rejected",
		TokenServiceError: "invalid_client", Failures: 3})
	f.Publish(app.Event{Type: app.EventEvicted, Service: "ledger", At: testNow})
	return f
}

// checkEventData checks each data line of an event stream against the
// Event schema, and that there are want of them.
func checkEventData(t *testing.T, doc *openapitest.Doc, stream string, want int) {
	t.Helper()
	n := 0
	for line := range strings.SplitSeq(stream, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		n++
		dec := json.NewDecoder(strings.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("data is not JSON: %q", data)
		}
		if errs := doc.Validate(map[string]any{"$ref": "#/components/schemas/Event"}, v); len(errs) > 0 {
			t.Errorf("event %s: %v", data, errs)
		}
	}
	if n != want {
		t.Errorf("%d events in the stream, want %d: %q", n, want, stream)
	}
}

func fmtErr(err error) error { return errors.Join(errors.New("tokenservice: service \"kyc\""), err) }

// TestOpenAPIServed: the document is served as it is embedded, as JSON.
func TestOpenAPIServed(t *testing.T) {
	rec := httptest.NewRecorder()
	NewHandler(&fakeService{}, Options{Logger: slog.New(slog.DiscardHandler)}).
		ServeHTTP(rec, httptest.NewRequest("GET", BasePath+OpenAPIPath, nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" || rec.Body.String() != string(OpenAPI()) {
		t.Fatalf("GET openapi.json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
}

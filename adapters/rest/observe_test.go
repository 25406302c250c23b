package rest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/domain"
)

// The metrics adapter is what the server passes as the observer.
var _ RequestObserver = (*metrics.Metrics)(nil)

type observed struct {
	route, method string
	status        int
	d             time.Duration
}

// recordingObserver keeps every observation.
type recordingObserver struct {
	mu  sync.Mutex
	got []observed
}

func (r *recordingObserver) ObserveRequest(route, method string, status int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, observed{route, method, status, d})
}

func (r *recordingObserver) last(t *testing.T) observed {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		t.Fatal("nothing observed")
	}
	return r.got[len(r.got)-1]
}

// TestObserverSeesRouteTemplates: the observer gets the route template,
// the method and the status of every kind of answer, including those
// produced outside the endpoints (401, 404, 405, a panic's 500).
func TestObserverSeesRouteTemplates(t *testing.T) {
	auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: keyAll}}, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	slow := func(context.Context, string) (domain.Token, error) {
		time.Sleep(2 * time.Millisecond) // a duration the observation must cover
		return guideToken(), nil
	}
	svc := &fakeService{token: slow}
	obs := &recordingObserver{}
	h := NewHandler(svc, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Auth: auth, Observer: obs})
	panicking := NewHandler(&fakeService{panics: "boom"}, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Observer: obs})

	bearer := []string{"Authorization", "Bearer " + keyAll}
	for _, tc := range []struct {
		name    string
		h       http.Handler
		method  string
		path    string
		headers []string
		want    observed
	}{
		{"token", h, "GET", "/api/v1/jwt/token/kyc", bearer, observed{route: "/api/v1/jwt/token/:serviceName", method: "GET", status: 200}},
		{"bad name", h, "GET", "/api/v1/jwt/token/Not_Valid", bearer, observed{route: "/api/v1/jwt/token/:serviceName", method: "GET", status: 400}},
		{"no key", h, "GET", "/api/v1/jwt/token/kyc", nil, observed{route: "/api/v1/jwt/token/:serviceName", method: "GET", status: 401}},
		{"status", h, "GET", "/api/v1/jwt/status", nil, observed{route: "/api/v1/jwt/status", method: "GET", status: 200}},
		{"evict", h, "DELETE", "/api/v1/jwt/evict/kyc", bearer, observed{route: "/api/v1/jwt/evict/:serviceName", method: "DELETE", status: 200}},
		{"livez", h, "GET", "/livez", nil, observed{route: "/livez", method: "GET", status: 200}},
		{"unknown path", h, "GET", "/no/such/path", nil, observed{route: "", method: "GET", status: 404}},
		{"wrong method", h, "POST", "/api/v1/jwt/token/kyc", bearer, observed{route: "", method: "POST", status: 405}},
		{"panic", panicking, "GET", "/api/v1/jwt/health", nil, observed{route: "/api/v1/jwt/health", method: "GET", status: 500}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := request(tc.h, tc.method, tc.path, tc.headers...)
			got := obs.last(t)
			if rec.Code != tc.want.status || got.route != tc.want.route || got.method != tc.want.method || got.status != tc.want.status {
				t.Fatalf("answered %d, observed %+v, want %+v", rec.Code, got, tc.want)
			}
			if tc.name == "token" && got.d < 2*time.Millisecond {
				t.Errorf("duration %v does not cover the 2 ms the core took", got.d)
			}
		})
	}
}

// scrape is the text of GET /metrics served by the handler.
func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", MetricsPath, nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

// seriesOf are the lines of the scrape that are samples of name.
func seriesOf(text, name string) []string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			out = append(out, line)
		}
	}
	return out
}

// TestHTTPMetricsBounded runs the API with the real metrics adapter: the
// counts and labels show on /metrics, and 1,000 distinct service names
// (and as many unknown paths) create no series.
func TestHTTPMetricsBounded(t *testing.T) {
	m := metrics.New(metrics.Options{Logger: discardLogger})
	h := NewHandler(&fakeService{}, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Observer: m, Metrics: m.Handler()})
	request(h, "GET", "/api/v1/jwt/token/kyc")
	request(h, "GET", "/no/such/path")
	before := scrape(t, h)
	const route = `route="/api/v1/jwt/token/:serviceName"`
	for _, want := range []string{
		`jwtcache_http_requests_total{method="GET",` + route + `,status="200"} 1`,
		`jwtcache_http_requests_total{method="GET",route="unmatched",status="404"} 1`,
		`jwtcache_http_request_duration_seconds_count{method="GET",` + route + `} 1`,
	} {
		if !strings.Contains(before, want) {
			t.Fatalf("scrape lacks %s:\n%s", want, before)
		}
	}
	for i := range 1000 {
		if rec := request(h, "GET", fmt.Sprintf("/api/v1/jwt/token/svc-%d", i)); rec.Code != 200 {
			t.Fatalf("svc-%d: %d", i, rec.Code)
		}
		request(h, "GET", fmt.Sprintf("/no/such/path-%d", i))
	}
	after := scrape(t, h)
	for _, name := range []string{"jwtcache_http_requests_total", "jwtcache_http_request_duration_seconds_count"} {
		// The scrapes themselves add the /metrics route's series once.
		if b, a := len(seriesOf(before, name)), len(seriesOf(after, name)); a != b+1 {
			t.Errorf("%s: %d series before, %d after 1,000 service names (want %d, the /metrics route)", name, b, a, b+1)
		}
	}
	if strings.Contains(after, "svc-") || strings.Contains(after, "path-") {
		t.Fatal("a request path became a label")
	}
	if !strings.Contains(after, `jwtcache_http_requests_total{method="GET",`+route+`,status="200"} 1001`) {
		t.Fatalf("token requests not counted:\n%s", strings.Join(seriesOf(after, "jwtcache_http_requests_total"), "\n"))
	}
}

package rest

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func TestManagementHandlerRoutes(t *testing.T) {
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	h := NewManagementHandler(&fakeService{}, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Metrics: metrics})
	for _, tc := range []struct {
		method, path string
		want         int
		body         string
	}{
		{"GET", LivezPath, 200, `"status":"UP"`},
		{"GET", ReadyzPath, 200, `"ready":true`},
		{"GET", HealthPath, 200, `"healthy":true`},
		{"GET", MetricsPath, 200, "up 1"},
		// The API itself is not served here.
		{"GET", BasePath + "/token/kyc", 404, `"error":"not_found"`},
		{"GET", BasePath + "/status", 404, `"error":"not_found"`},
		{"POST", LivezPath, 405, `"error":"method_not_allowed"`},
	} {
		rec := request(h, tc.method, tc.path)
		if rec.Code != tc.want || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, rec.Code, rec.Body, tc.want, tc.body)
		}
	}
}

// TestManagementHandlerAuth: /metrics needs a key there too when status is
// protected; the probes and health never do.
func TestManagementHandlerAuth(t *testing.T) {
	auth, err := NewAuth(AuthOptions{Keys: []APIKey{{Key: "management-key-0123456789"}}, ProtectStatus: true, Logger: discardLogger})
	if err != nil {
		t.Fatal(err)
	}
	metrics := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("up 1\n")) })
	h := NewManagementHandler(&fakeService{}, Options{Logger: discardLogger, Auth: auth, Metrics: metrics})
	if rec := request(h, "GET", MetricsPath); rec.Code != 401 {
		t.Errorf("metrics without a key: %d", rec.Code)
	}
	if rec := request(h, "GET", MetricsPath, "X-API-Key", "management-key-0123456789"); rec.Code != 200 {
		t.Errorf("metrics with the key: %d", rec.Code)
	}
	for _, p := range []string{LivezPath, ReadyzPath, HealthPath} {
		if rec := request(h, "GET", p); rec.Code != 200 {
			t.Errorf("%s without a key: %d", p, rec.Code)
		}
	}
}

// TestManagementAnswersWhileAPIIsFull: with the API listener at its
// connection cap, the management listener still answers the probes and
// health; readiness drains on both.
func TestManagementAnswersWhileAPIIsFull(t *testing.T) {
	ready := &Readiness{}
	opts := Options{Logger: discardLogger, Readiness: ready}
	start := func(h http.Handler, l Limits) *Server {
		s := NewServer("127.0.0.1:0", h, discardLogger)
		s.SetLimits(l)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Stop(context.Background()) })
		return s
	}
	m := start(NewManagementHandler(&fakeService{}, opts), ManagementLimits)
	api := start(NewHandler(&fakeService{}, opts), Limits{MaxConnections: 1})
	if m.Addr() == api.Addr() {
		t.Fatalf("management listener beside the API on %s", api.Addr())
	}

	held := dial(t, api.Addr())
	if resp, _, err := roundTrip(held, bufio.NewReader(held), getLivez, 5*time.Second); err != nil || resp.StatusCode != 200 {
		t.Fatalf("API: %v %v", resp, err)
	}
	over := dial(t, api.Addr())
	if _, _, err := roundTrip(over, bufio.NewReader(over), getLivez, 200*time.Millisecond); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("the API served a connection over its cap: %v", err)
	}
	for _, p := range []string{LivezPath, ReadyzPath, HealthPath} {
		if code, body, err := get(t, "http://"+m.Addr()+p); err != nil || code != 200 {
			t.Errorf("management %s while the API is full: %d %s %v", p, code, body, err)
		}
	}
	ready.Drain()
	if code, _, err := get(t, "http://"+m.Addr()+ReadyzPath); err != nil || code != 503 {
		t.Errorf("management readyz once draining: %d %v", code, err)
	}
}

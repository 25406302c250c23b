package rest

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

func TestReadiness(t *testing.T) {
	var nilReady *Readiness
	if nilReady.Draining() {
		t.Fatal("a nil Readiness drains")
	}
	var r Readiness
	if r.Draining() {
		t.Fatal("the zero Readiness drains")
	}
	select {
	case <-r.Drained():
		t.Fatal("Drained closed before Drain")
	default:
	}
	r.Drain()
	r.Drain() // again: no panic
	<-r.Drained()
	if !r.Draining() {
		t.Fatal("not draining after Drain")
	}
}

// TestProbes: /livez asks nothing of the cache; /readyz follows health and
// the shutdown state.
func TestProbes(t *testing.T) {
	healthCalls := 0
	health := app.StatusUp
	svc := &fakeService{health: func(context.Context) app.Health {
		healthCalls++
		return app.Health{At: testNow, Status: health}
	}}
	ready := &Readiness{}
	h := NewHandler(svc, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Readiness: ready})

	rec := request(h, "GET", LivezPath)
	if rec.Code != 200 || rec.Body.String() != `{"status":"UP","timestamp":"2024-01-15T10:30:00Z"}` || healthCalls != 0 {
		t.Fatalf("livez: %d %s (health called %d times)", rec.Code, rec.Body, healthCalls)
	}
	for _, tc := range []struct {
		health app.HealthStatus
		code   int
		body   string
	}{
		{app.StatusUp, 200, `{"ready":true,"status":"UP","timestamp":"2024-01-15T10:30:00Z"}`},
		{app.StatusDegraded, 200, `{"ready":true,"status":"DEGRADED","timestamp":"2024-01-15T10:30:00Z"}`},
		{app.StatusDown, 503, `{"ready":false,"status":"DOWN","timestamp":"2024-01-15T10:30:00Z"}`},
	} {
		health = tc.health
		if rec := request(h, "GET", ReadyzPath); rec.Code != tc.code || rec.Body.String() != tc.body {
			t.Errorf("readyz with health %s: %d %s", tc.health, rec.Code, rec.Body)
		}
	}
	health = app.StatusUp
	ready.Drain()
	calls := healthCalls
	if rec := request(h, "GET", ReadyzPath); rec.Code != 503 ||
		rec.Body.String() != `{"ready":false,"status":"DOWN","detail":"shutting down","timestamp":"2024-01-15T10:30:00Z"}` {
		t.Errorf("readyz while draining: %d %s", rec.Code, rec.Body)
	}
	if healthCalls != calls {
		t.Error("readyz asked for health while draining")
	}
	if rec := request(h, "GET", LivezPath); rec.Code != 200 {
		t.Errorf("livez while draining: %d", rec.Code)
	}
}

// TestServerStopFinishesInFlightRequests: Stop drains readiness first,
// stops accepting connections, lets the request in flight finish with its
// answer, and only then returns.
func TestServerStopFinishesInFlightRequests(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	svc := &fakeService{token: func(ctx context.Context, _ string) (domain.Token, error) {
		close(entered)
		<-release
		return guideToken(), nil
	}}
	ready := &Readiness{}
	h := NewHandler(svc, Options{Logger: discardLogger, Clock: fixedClock{testNow}, Readiness: ready})
	s := NewServer("127.0.0.1:0", h, discardLogger)
	s.DrainFirst(ready, 0)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr()

	type answer struct {
		code int
		body string
		err  error
	}
	inflight := make(chan answer, 1)
	go func() {
		code, body, err := get(t, "http://"+addr+"/api/v1/jwt/token/kyc")
		inflight <- answer{code, body, err}
	}()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	<-ready.Drained()
	if rec := request(h, "GET", ReadyzPath); rec.Code != 503 {
		t.Fatalf("readyz once Stop began: %d %s", rec.Code, rec.Body)
	}
	// New connections are refused while the request is still in flight.
	waitUntil(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) with a request in flight", err)
	default:
	}

	close(release)
	a := <-inflight
	if a.err != nil || a.code != 200 || !strings.Contains(a.body, secretToken) {
		t.Fatalf("the request in flight got %d %v", a.code, a.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
}

// TestServerDrainsBeforeStopping: with a delay, DrainFirst keeps the
// server serving, with /readyz at 503, once Stop begins; the delay ends
// with the stop context.
func TestServerDrainsBeforeStopping(t *testing.T) {
	ready := &Readiness{}
	srv := NewServer("127.0.0.1:0", NewHandler(&fakeService{}, Options{Logger: discardLogger, Readiness: ready}), discardLogger)
	srv.DrainFirst(ready, time.Hour)
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()
	if code, _, err := get(t, base+ReadyzPath); err != nil || code != 200 {
		t.Fatalf("readyz while running: %d %v", code, err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(ctx) }()
	<-ready.Drained()
	if code, body, err := get(t, base+ReadyzPath); err != nil || code != 503 || !strings.Contains(body, "shutting down") {
		t.Fatalf("readyz while draining: %d %s %v", code, body, err)
	}
	if code, _, err := get(t, base+LivezPath); err != nil || code != 200 {
		t.Fatalf("livez while draining: %d %v", code, err)
	}
	if code, _, err := get(t, base+"/api/v1/jwt/token/kyc"); err != nil || code != 200 {
		t.Fatalf("token while draining: %d %v", code, err)
	}
	cancel()
	<-stopped // the grace period was cut short: its error says so
	if _, _, err := get(t, base+LivezPath); err == nil {
		t.Fatal("still serving after the application stopped")
	}
}

// waitUntil polls cond until it holds, for a state another goroutine
// reaches with no event to wait on; it fails the test after 10s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

package rest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/domain"
)

var discardLogger = slog.New(slog.DiscardHandler)

// noReuse is a client that dials for every request, so that a stopped
// server is seen as refused rather than hidden by a pooled connection.
var noReuse = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

func get(t *testing.T, url string) (int, string, error) {
	t.Helper()
	resp, err := noReuse.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func startServer(t *testing.T, svc Cache) *Server {
	t.Helper()
	s := NewServer("127.0.0.1:0", NewHandler(svc, Options{Logger: discardLogger}), discardLogger)
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServerLifecycle(t *testing.T) {
	s := startServer(t, &fakeService{})
	if strings.HasSuffix(s.Addr(), ":0") {
		t.Fatalf("Addr() = %s, want the actual port", s.Addr())
	}
	code, body, err := get(t, "http://"+s.Addr()+"/api/v1/jwt/health")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"status":"UP"`) {
		t.Fatalf("health: %d %q %v", code, body, err)
	}
	if err := s.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	if err := s.Stop(t.Context()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, _, err := get(t, "http://"+s.Addr()+"/api/v1/jwt/health"); err == nil {
		t.Error("server still answers after Stop")
	}
}

// TestServerPanicIsAnswered checks over a real connection that a panic
// becomes a JSON 500, not a dropped connection.
func TestServerPanicIsAnswered(t *testing.T) {
	s := startServer(t, &fakeService{panics: "boom"})
	defer s.Stop(context.Background())
	code, body, err := get(t, "http://"+s.Addr()+"/api/v1/jwt/token/kyc")
	if err != nil || code != http.StatusInternalServerError || !strings.Contains(body, `"error":"internal_error"`) {
		t.Fatalf("got %d %q %v", code, body, err)
	}
}

func TestServerPortConflict(t *testing.T) {
	s1 := startServer(t, &fakeService{})
	defer s1.Stop(context.Background())
	s2 := NewServer(s1.Addr(), http.NotFoundHandler(), discardLogger)
	err := s2.Start(t.Context())
	if err == nil {
		s2.Stop(context.Background())
		t.Fatal("Start on a port in use succeeded")
	}
	if !strings.HasPrefix(err.Error(), "rest: listen on") {
		t.Errorf("error %q does not name the adapter", err)
	}
}

func TestServerStopNeverStarted(t *testing.T) {
	s := NewServer("127.0.0.1:0", http.NotFoundHandler(), nil)
	if err := s.Stop(t.Context()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if s.Addr() != "127.0.0.1:0" {
		t.Errorf("Addr() before Start = %s", s.Addr())
	}
}

// blockingService holds Token calls until release is closed, announcing
// each on entered.
func blockingService() (svc *fakeService, entered, release chan struct{}) {
	entered, release = make(chan struct{}, 1), make(chan struct{})
	svc = &fakeService{token: func(context.Context, string) (domain.Token, error) {
		entered <- struct{}{}
		<-release
		return guideToken(), nil
	}}
	return svc, entered, release
}

func TestServerStopWaitsForRequestsInFlight(t *testing.T) {
	svc, entered, release := blockingService()
	s := startServer(t, svc)
	shutdownStarted := make(chan struct{})
	s.srv.RegisterOnShutdown(func() { close(shutdownStarted) })

	type result struct {
		code int
		body string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		code, body, err := get(t, "http://"+s.Addr()+"/api/v1/jwt/token/kyc")
		done <- result{code, body, err}
	}()
	<-entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(context.Background()) }()
	<-shutdownStarted
	close(release)

	r := <-done
	if r.err != nil || r.code != http.StatusOK || !strings.Contains(r.body, secretToken) {
		t.Errorf("request in flight: %d %q %v", r.code, r.body, r.err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestServerStopGivesUpWhenContextEnds(t *testing.T) {
	svc, entered, release := blockingService()
	defer close(release)
	s := startServer(t, svc)
	failed := make(chan error, 1)
	go func() {
		_, _, err := get(t, "http://"+s.Addr()+"/api/v1/jwt/token/kyc")
		failed <- err
	}()
	<-entered
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop = %v, want context.Canceled", err)
	}
	if err := <-failed; err == nil {
		t.Error("the hung request was answered; want its connection closed")
	}
}

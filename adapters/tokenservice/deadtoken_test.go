package tokenservice_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// TestDeadTokens: the expiry is the earlier of request start + expires_in
// and the JWT's exp in every case, and a token that leaves less than the
// minimal useful life is refused as a bad response.
func TestDeadTokens(t *testing.T) {
	expAt := func(d time.Duration) string { return jwt(fmt.Sprintf(`{"sub":"x","exp":%d}`, now.Add(d).Unix())) }
	tests := []struct {
		name    string
		body    string
		minLife time.Duration
		// dead: refused; otherwise wantExpires.
		dead        bool
		wantExpires time.Time
	}{
		{name: "exp 60s in the past, expires_in 3600", body: `{"access_token":"` + expAt(-time.Minute) + `","expires_in":3600}`, dead: true},
		{name: "exp exactly now, expires_in 3600", body: `{"access_token":"` + expAt(0) + `","expires_in":3600}`, dead: true},
		{name: "exp 9s ahead, expires_in 3600", body: `{"access_token":"` + expAt(9*time.Second) + `","expires_in":3600}`, dead: true},
		{name: "exp 10s ahead, expires_in 3600", body: `{"access_token":"` + expAt(10*time.Second) + `","expires_in":3600}`,
			wantExpires: now.Add(10 * time.Second)},
		{name: "exp 9s ahead, minimum 5s", body: `{"access_token":"` + expAt(9*time.Second) + `","expires_in":3600}`, minLife: 5 * time.Second,
			wantExpires: now.Add(9 * time.Second)},
		{name: "exp in the past, minimum off", body: `{"access_token":"` + expAt(-time.Second) + `","expires_in":3600}`, minLife: -1, dead: true},
		{name: "exp 1s ahead, minimum off", body: `{"access_token":"` + expAt(time.Second) + `","expires_in":3600}`, minLife: -1,
			wantExpires: now.Add(time.Second)},
		{name: "exp-only JWT 5s ahead", body: `{"access_token":"` + expAt(5*time.Second) + `"}`, dead: true},
		// A token service that issues short tokens on purpose (tests,
		// development) says so in expires_in: the bar is then a quarter of
		// what it promised.
		{name: "short token, consistent", body: `{"access_token":"` + expAt(5*time.Second) + `","expires_in":5}`,
			wantExpires: now.Add(5 * time.Second)},
		{name: "short opaque token", body: `{"access_token":"opaque","expires_in":2}`, wantExpires: now.Add(2 * time.Second)},
		{name: "short token, exp a quarter short", body: `{"access_token":"` + expAt(time.Second) + `","expires_in":5}`, dead: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, answer(200, tt.body))
			var logs syncBuffer
			iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
				o.MinTokenLifetime = tt.minLife
				o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			tok, err := iss.Issue(context.Background(), service)
			if !tt.dead {
				if err != nil {
					t.Fatalf("Issue: %v", err)
				}
				if !tok.ExpiresAt.Equal(tt.wantExpires) {
					t.Errorf("ExpiresAt = %v, want %v", tok.ExpiresAt, tt.wantExpires)
				}
				return
			}
			if err == nil {
				t.Fatalf("Issue accepted a dead token expiring at %v", tok.ExpiresAt)
			}
			tse := tokenServiceError(t, err)
			if tse.Kind != domain.BadResponse || !errors.Is(err, tokenservice.ErrDeadToken) || !errors.Is(err, tokenservice.ErrBadExpiry) {
				t.Errorf("error %v: kind %v, want bad_response wrapping ErrDeadToken", err, tse.Kind)
			}
			if tse.HTTPStatus != 200 {
				t.Errorf("HTTPStatus = %d", tse.HTTPStatus)
			}
			if tse.Temporary() {
				t.Error("a dead token is reported as temporary")
			}
			assertNoCredential(t, err)
			if strings.Contains(err.Error(), "eyJ") || strings.Contains(logs.String(), "eyJ") {
				t.Errorf("the token leaked: %v / %s", err, logs.String())
			}
		})
	}
}

// TestDeadTokenLoggedOncePerService: the clock problem is logged once per
// service, with its size, however many requests meet it, and again only
// after the service has recovered.
func TestDeadTokenLoggedOncePerService(t *testing.T) {
	var mu sync.Mutex
	body := `{"access_token":"` + jwt(fmt.Sprintf(`{"exp":%d}`, now.Add(-time.Minute).Unix())) + `","expires_in":3600}`
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		b := body
		mu.Unlock()
		answer(200, b)(w, r)
	})
	var logs syncBuffer
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	for range 5 {
		_, _ = iss.Issue(context.Background(), service)
		_, _ = iss.Issue(context.Background(), "data-processor")
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines for 10 dead tokens of 2 services, want 2:\n%s", len(lines), logs.String())
	}
	for i, svc := range []string{service, "data-processor"} {
		l := lines[i]
		if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "service="+svc) || !strings.Contains(l, "gap=1h1m0s") {
			t.Errorf("log line %q lacks the level, service or the gap (1h1m0s)", l)
		}
		if strings.Contains(l, "eyJ") || strings.Contains(l, secret) {
			t.Errorf("log line %q holds a credential", l)
		}
	}

	// The service recovers, then breaks again: logged again, once.
	mu.Lock()
	good := body
	body = `{"access_token":"opaque","expires_in":3600}`
	mu.Unlock()
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	body = good
	mu.Unlock()
	_, _ = iss.Issue(context.Background(), service)
	_, _ = iss.Issue(context.Background(), service)
	if n := strings.Count(logs.String(), "\n"); n != 3 {
		t.Errorf("%d log lines after a recovery and two more dead tokens, want 3:\n%s", n, logs.String())
	}
}

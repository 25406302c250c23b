package tokenservice_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// TestAgainstDevIssuer runs the issuer against the real development token
// service: the two must agree on the protocol, including §2.3.1 encoding of
// a secret full of special characters.
func TestAgainstDevIssuer(t *testing.T) {
	dev, err := devissuer.New(devissuer.Options{
		ClientID:      clientID,
		ClientSecret:  secret,
		TokenLifetime: 10 * time.Minute,
		Clock:         fixedClock{now},
		Logger:        slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(dev.Handler())
	t.Cleanup(srv.Close)
	tokenURL := srv.URL + devissuer.TokenPath

	for _, method := range []string{tokenservice.AuthClientSecretBasic, tokenservice.AuthClientSecretPost} {
		t.Run(method, func(t *testing.T) {
			iss := newIssuer(t, tokenURL, func(o *tokenservice.Options) {
				o.AuthMethod = method
				o.Audience = "https://api.example.com"
			})
			tok, err := iss.Issue(context.Background(), service)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || tok.Scope != "api.read api.write" || tok.IssuedAt != now || tok.ExpiresAt != now.Add(10*time.Minute) {
				t.Errorf("token = %v", tok)
			}
			claims, err := dev.VerifyToken(tok.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if claims["sub"] != clientID || claims["aud"] != "https://api.example.com" || claims["scope"] != "api.read api.write" {
				t.Errorf("claims = %v", claims)
			}
		})
	}

	t.Run("wrong secret", func(t *testing.T) {
		iss := newIssuer(t, tokenURL, func(o *tokenservice.Options) { o.ClientSecret = "not-" + secret })
		_, err := iss.Issue(context.Background(), service)
		tse := tokenServiceError(t, err)
		if tse.Kind != domain.Rejected || tse.Code != "invalid_client" || tse.HTTPStatus != 401 || tse.Temporary() {
			t.Errorf("error = %v", err)
		}
		assertNoCredential(t, err)
	})

	t.Run("down for one request", func(t *testing.T) {
		dev.FailNext(1)
		iss := newIssuer(t, tokenURL)
		_, err := iss.Issue(context.Background(), service)
		tse := tokenServiceError(t, err)
		if tse.Kind != domain.Rejected || tse.Code != "temporarily_unavailable" || tse.HTTPStatus != 503 || !tse.Temporary() {
			t.Errorf("error = %v", err)
		}
		if _, err := iss.Issue(context.Background(), service); err != nil {
			t.Errorf("after the failure: %v", err)
		}
	})

	t.Run("plain 502 with Retry-After", func(t *testing.T) {
		t.Cleanup(dev.ResetFaults)
		dev.SetFailure(devissuer.Failure{Status: 502, RetryAfter: 3 * time.Second})
		dev.FailNext(1)
		_, err := newIssuer(t, tokenURL).Issue(context.Background(), service)
		tse := tokenServiceError(t, err)
		if tse.Kind != domain.BadResponse || !errors.Is(err, tokenservice.ErrUnexpectedStatus) || tse.RetryAfter != 3*time.Second || !tse.Temporary() {
			t.Errorf("error = %v", err)
		}
	})

	t.Run("slow", func(t *testing.T) {
		t.Cleanup(dev.ResetFaults)
		dev.SetDelay(time.Hour)
		iss := newIssuer(t, tokenURL, func(o *tokenservice.Options) { o.Timeout = 50 * time.Millisecond })
		_, err := iss.Issue(context.Background(), service)
		assertTimeout(t, err)
	})

	// One token request per Issue call: the issuer neither retries nor
	// caches. srv.Close waits for the slow request to be counted.
	srv.Close()
	if got := dev.Stats(); got != (devissuer.Stats{TokenRequests: 7, Issued: 3, Rejected: 4}) {
		t.Errorf("dev issuer stats = %+v", got)
	}
}

package tokenservice_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// fuzzSecret is the client secret of the fuzzed issuer: no error may show it.
const fuzzSecret = "fuzz-S3CRET+value/9f2c=="

// fuzzAnswer is what the fake token endpoint answers next.
type fuzzAnswer struct {
	status                  int
	contentType, retryAfter string
	body                    []byte
}

// FuzzIssueResponse answers the issuer's token request with any status,
// Content-Type, Retry-After and body: Issue never panics or hangs (it
// returns within its timeout), a failure is a *domain.TokenServiceError
// whose text never shows the client secret, and a success is a usable
// token from a 2xx answer.
func FuzzIssueResponse(f *testing.F) {
	const ok = `{"access_token":"eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln","token_type":"Bearer","expires_in":3600}`
	for _, s := range []struct {
		status          int
		ct, retry, body string
	}{
		{200, "application/json", "", ok},
		{200, "application/json;charset=UTF-8", "", `{"access_token":"t","token_type":"bearer","expires_in":"3600","scope":["a","b"]}`},
		{200, "", "", `{"access_token":"eyJhbGciOiJFUzI1NiJ9.eyJleHAiOjQxMDI0NDQ4MDB9.c2ln"}`},
		{200, "text/html", "", "<html>login</html>"},
		{200, "application/json", "", `{"error":"invalid_client"}`},
		{200, "application/json", "", `{"access_token":"t","expires_in":-1}`},
		{200, "application/json", "", `{"access_token":"t","expires_in":1e309}`},
		{200, "application/json", "", `{"access_token":"t","expires_in":9223372036854775807}`},
		{200, "application/json", "", `{"access_token":"","expires_in":60}`},
		{200, "application/json", "", `null`},
		{200, "application/json", "", ``},
		{204, "", "", ``},
		{400, "application/json", "", `{"error":"invalid_request","error_description":"the client_secret fuzz-S3CRET+value/9f2c== is wrong"}`},
		{401, "application/json", "", `{"error":"invalid_client"}`},
		{429, "application/json", "120", `{"error":"slow_down"}`},
		{503, "text/plain", "Wed, 21 Oct 2015 07:28:00 GMT", "down"},
		{503, "application/json", "-5", `{"error":"temporarily_unavailable"}`},
		{503, "application/json", "99999999999999999999", `{"error":"temporarily_unavailable"}`},
		{500, "application/json", "", `{"error":42}`},
		{302, "", "", ""},
		{599, "application/json", "1.5", strings.Repeat("x", 70<<10)},
	} {
		f.Add(s.status, s.ct, s.retry, []byte(s.body))
	}

	var mu sync.Mutex
	var next fuzzAnswer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		a := next
		mu.Unlock()
		if a.contentType != "" {
			w.Header().Set("Content-Type", a.contentType)
		}
		if a.retryAfter != "" {
			w.Header().Set("Retry-After", a.retryAfter)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write(a.body)
	}))
	f.Cleanup(srv.Close)

	const timeout = 2 * time.Second
	f.Fuzz(func(t *testing.T, status int, contentType, retryAfter string, body []byte) {
		// Statuses a server can send as a final answer.
		status = 200 + (status%400+400)%400
		mu.Lock()
		next = fuzzAnswer{status: status, contentType: contentType, retryAfter: retryAfter, body: body}
		mu.Unlock()

		iss, err := tokenservice.New(tokenservice.Options{
			URL: srv.URL, ClientID: "fuzz-client", ClientSecret: fuzzSecret,
			Timeout: timeout, NegativeCache: -1,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*timeout)
		defer cancel()
		start := time.Now()
		tok, err := iss.Issue(ctx, "kyc")
		if took := time.Since(start); took > timeout+time.Second {
			t.Fatalf("Issue took %v with a %v timeout", took, timeout)
		}
		if err != nil {
			if strings.Contains(err.Error(), fuzzSecret) {
				t.Fatalf("the error shows the client secret: %v", err)
			}
			var tse *domain.TokenServiceError
			if !errors.As(err, &tse) {
				t.Fatalf("the error is not a *domain.TokenServiceError: %v", err)
			}
			if !tok.IsZero() {
				t.Fatal("Issue returned a token with its error")
			}
			return
		}
		if status < 200 || status > 299 {
			t.Fatalf("a %d answer gave a token", status)
		}
		if tok.AccessToken == "" || !tok.ExpiresAt.After(tok.IssuedAt) {
			t.Fatalf("an unusable token: %d chars, issued %v, expires %v", len(tok.AccessToken), tok.IssuedAt, tok.ExpiresAt)
		}
	})
}

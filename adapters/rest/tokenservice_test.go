package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// TestTokenService429 follows a 429 of a real token endpoint through the
// token service adapter to the API's answer: 503 token_service_unavailable
// with the token service's Retry-After passed on, not a bad response.
func TestTokenService429(t *testing.T) {
	for _, tt := range []struct {
		name, body, retryAfter, wantRetry string
	}{
		{"no body", "", "7", "7"},
		{"slow_down body", `{"error":"slow_down","error_description":"too many requests"}`, "12", "12"},
		{"html body", "<html>Too Many Requests</html>", "3", "3"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", tt.retryAfter)
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, tt.body)
			}))
			defer ts.Close()
			iss, err := tokenservice.New(tokenservice.Options{URL: ts.URL, ClientID: "c", ClientSecret: "s3cret-value"})
			if err != nil {
				t.Fatal(err)
			}
			svc := &fakeService{token: func(ctx context.Context, service string) (domain.Token, error) {
				return iss.Issue(ctx, service)
			}}
			h, _ := newTestHandler(svc)
			rec, body := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
			if rec.Code != http.StatusServiceUnavailable || body["error"] != "token_service_unavailable" {
				t.Fatalf("answer %d %v, want 503 token_service_unavailable: %s", rec.Code, body["error"], rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetry {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetry)
			}
			if msg, _ := body["message"].(string); !strings.Contains(msg, "429") {
				t.Errorf("message %q does not say the token service answered 429", msg)
			}
		})
	}
}

// TestTokenServiceDescriptionCut: a long multi-byte error_description
// reaches the API's message cut on a character boundary and marked, not
// cut again at 200 bytes in the middle of a word.
func TestTokenServiceDescriptionCut(t *testing.T) {
	desc := strings.Repeat("Zugriff verweigert für diesen Client ", 10)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":"invalid_scope","error_description":"`+desc+`"}`)
	}))
	defer ts.Close()
	iss, err := tokenservice.New(tokenservice.Options{URL: ts.URL, ClientID: "c", ClientSecret: "s3cret-value"})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := newTestHandler(&fakeService{token: func(ctx context.Context, service string) (domain.Token, error) {
		return iss.Issue(ctx, service)
	}})
	_, body := do(t, h, http.MethodGet, "/api/v1/jwt/token/kyc")
	msg, _ := body["message"].(string)
	_, got, ok := strings.Cut(msg, "invalid_scope: ")
	if !ok || !utf8.ValidString(got) || !strings.HasSuffix(got, "…") {
		t.Fatalf("message %q: want the description, valid UTF-8, its cut marked", msg)
	}
	kept := strings.TrimSuffix(got, "…")
	if !strings.HasPrefix(desc, kept) || len(kept) < 150 {
		t.Errorf("kept %q is not a long prefix of the description", kept)
	}
	if next := desc[len(kept):]; next != "" && next[0] != ' ' {
		t.Errorf("the cut after %q falls inside a word", kept)
	}
}

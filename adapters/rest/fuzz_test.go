package rest_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// fuzzTokenPrefix starts every token the fuzz issuer hands out, so that a
// body that must not carry a token can be searched for one.
const fuzzTokenPrefix = "fuzz-access-token-"

// fuzzIssuer hands out a new token at once.
type fuzzIssuer struct{ n atomic.Int64 }

func (i *fuzzIssuer) Issue(_ context.Context, service string) (domain.Token, error) {
	now := time.Now()
	return domain.Token{
		AccessToken: fuzzTokenPrefix + service + "-" + string(rune('a'+i.n.Add(1)%26)),
		TokenType:   "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour),
	}, nil
}

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodHead, http.MethodOptions}

var fuzzEndpoints = []string{"token", "bearer", "refresh", "evict", "status", "statistics", "health", ""}

// FuzzServiceName sends any service name, with any method, to every
// endpoint of the REST API over a real core (memory store, an issuer in
// the process): nothing panics, the status is 200, 400, 404 or 405, the
// body is JSON (valid UTF-8 whatever the name), and only the token, bearer
// and refresh answers carry a token.
func FuzzServiceName(f *testing.F) {
	for _, name := range []string{
		"kyc", "data-processor", "a", "KYC", "-kyc", "kyc-", "1kyc", "ky_c", "", " ", "kyc ",
		strings.Repeat("a", 63), strings.Repeat("a", 64), "kyc/extra", "..", "../status", "%2e%2e", "kyc%00",
		"\x00", "\xff\xfe", "ky\u00e7", "<script>", `"quoted"`, "a\nb", "a?b=c", "a#b", "\u2028",
	} {
		for e := range fuzzEndpoints {
			f.Add(uint8(0), uint8(e), name) // GET
		}
	}
	for m := range fuzzMethods {
		for e := range fuzzEndpoints {
			f.Add(uint8(m), uint8(e), "kyc")
		}
	}
	logger := slog.New(slog.DiscardHandler)
	f.Fuzz(func(t *testing.T, method, endpoint uint8, name string) {
		store := memory.New(nil)
		svc, err := app.New(app.Options{Issuer: &fuzzIssuer{}, Store: store, Locker: store, Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		h := rest.NewHandler(svc, rest.Options{Logger: logger})

		m := fuzzMethods[int(method)%len(fuzzMethods)]
		ep := fuzzEndpoints[int(endpoint)%len(fuzzEndpoints)]
		path := rest.BasePath + "/" + ep + "/" + name
		if ep == "" {
			path = rest.BasePath + "/" + name
		}
		req := httptest.NewRequest(m, "/", nil)
		// The path as the router sees it once the server has decoded it:
		// any bytes at all.
		req.URL.Path, req.URL.RawPath = path, ""
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		switch rec.Code {
		case http.StatusOK, http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		default:
			t.Fatalf("%s %q: status %d, body %s", m, path, rec.Code, rec.Body)
		}
		body := rec.Body.Bytes()
		if m == http.MethodHead {
			return // no body
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%s %q: Content-Type %q", m, path, ct)
		}
		if !utf8.Valid(body) || !json.Valid(body) {
			t.Fatalf("%s %q: body is not JSON in UTF-8: %q", m, path, body)
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%s %q: body is not a JSON object: %q", m, path, body)
		}
		if rec.Code != http.StatusOK && (v["error"] == nil || v["message"] == nil || v["timestamp"] == nil) {
			t.Fatalf("%s %q: error body without error, message or timestamp: %s", m, path, body)
		}
		carriesToken := rec.Code == http.StatusOK && (ep == "token" || ep == "bearer" || ep == "refresh")
		if !carriesToken && strings.Contains(string(body), fuzzTokenPrefix) {
			t.Fatalf("%s %q: a %d answer carries a token", m, path, rec.Code)
		}
	})
}

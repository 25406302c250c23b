package tokenservice_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

// querySecret is in the query of the token endpoint of these tests: some
// token services take a code or key there, and no error, log line or
// /health detail may show it.
const querySecret = "QUERYSECRET"

// closedURL is the address of a server that has stopped: connections to
// it are refused.
func closedURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	return srv.URL
}

// TestQueryNeverInErrors: the errors of a token request or probe that got
// no answer (refused, timed out) name the endpoint as scheme://host/path,
// without its query.
func TestQueryNeverInErrors(t *testing.T) {
	stop := make(chan struct{})
	hanging := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	})
	t.Cleanup(func() { close(stop) }) // before the server's Close, which waits for the handler
	for _, tc := range []struct {
		name, base string
		kind       domain.TokenServiceErrorKind
	}{
		{"refused", closedURL(t), domain.Unreachable},
		{"timed out", hanging.URL, domain.Timeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := tc.base + "/oauth/token?code=" + querySecret
			iss := newIssuer(t, endpoint, func(o *tokenservice.Options) { o.Timeout = 200 * time.Millisecond })
			_, err := iss.Issue(context.Background(), service)
			tse := tokenServiceError(t, err)
			if tse.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v (%v)", tse.Kind, tc.kind, err)
			}
			if strings.Contains(err.Error(), querySecret) {
				t.Errorf("Issue error %q shows the URL's query", err)
			}
			if !strings.Contains(err.Error(), tc.base+"/oauth/token") {
				t.Errorf("Issue error %q does not name the endpoint", err)
			}
			perr := iss.Probe(context.Background())
			if perr == nil || strings.Contains(perr.Error(), querySecret) {
				t.Errorf("Probe error %v shows the URL's query (or is nil)", perr)
			}
		})
	}
}

// TestDiscoveredQueryNeverInLogs: a discovered token endpoint with a query
// is logged, and named in errors, without it.
func TestDiscoveredQueryNeverInLogs(t *testing.T) {
	is := startIssuer(t, "", "/.well-known/openid-configuration")
	is.set("token_endpoint", closedURL(t)+"/oauth2/token?code="+querySecret)
	var logs syncBuffer
	iss, err := discoveryIssuer(t, is.URL, func(o *tokenservice.Options) {
		o.Reach.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = iss.Issue(context.Background(), service)
	if err == nil || strings.Contains(err.Error(), querySecret) {
		t.Errorf("Issue error %v shows the URL's query (or is nil)", err)
	}
	if out := logs.String(); strings.Contains(out, querySecret) || !strings.Contains(out, "/oauth2/token") {
		t.Errorf("the log shows the query, or not the endpoint:\n%s", out)
	}
}

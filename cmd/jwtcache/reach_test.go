package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStartupRefusalsOfReach: every bad file, path or combination of the
// reach keys stops start-up with exit code 2 and names its key; an
// issuer whose discovery document has no token endpoint too.
func TestStartupRefusalsOfReach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var issuer *httptest.Server
	issuer = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + issuer.URL + `"}`))
	}))
	issuer.Start()
	t.Cleanup(issuer.Close)
	base := []string{"JWT_CLIENT_ID=x"}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"both URLs", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_TOKEN_ISSUER_URL=http://127.0.0.1:1", "JWT_CLIENT_SECRET=s3cr3t-value"},
			"JWT_TOKEN_ISSUER_URL (jwt.token.issuer.url): is set together with JWT_TOKEN_SERVICE_URL (jwt.token.service.url)"},
		{"both secrets", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_CLIENT_SECRET=s3cr3t-value", "JWT_CLIENT_SECRET_FILE=" + empty},
			"JWT_CLIENT_SECRET_FILE (jwt.token.client.secret-file): is set together with JWT_CLIENT_SECRET (jwt.token.client.secret)"},
		{"empty secret file", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_CLIENT_SECRET_FILE=" + empty},
			"JWT_CLIENT_SECRET_FILE (jwt.token.client.secret-file): file \"" + empty + "\": the file is empty"},
		{"missing CA file", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_CLIENT_SECRET=s3cr3t-value", "JWT_TOKEN_SERVICE_CA_FILE=" + filepath.Join(dir, "ca.pem")},
			"JWT_TOKEN_SERVICE_CA_FILE (jwt.token.service.ca-file): file \"" + filepath.Join(dir, "ca.pem") + "\": no such file"},
		{"half a certificate", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_CLIENT_CERT_FILE=" + empty},
			"JWT_CLIENT_CERT_FILE (jwt.token.client.cert-file): is set without JWT_CLIENT_CERT_KEY_FILE"},
		{"discovery document without a token endpoint", []string{"JWT_TOKEN_ISSUER_URL=" + issuer.URL, "JWT_CLIENT_SECRET=s3cr3t-value"},
			"JWT_TOKEN_ISSUER_URL (jwt.token.issuer.url): " + issuer.URL + "/.well-known/openid-configuration: unusable discovery document: it has no token_endpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, append(append([]string(nil), base...), tc.env...), "serve")
			if code := p.exitCode(); code != 2 {
				t.Fatalf("exit code %d, want 2:\n%s", code, p.output())
			}
			if !strings.Contains(p.output(), tc.want) {
				t.Fatalf("output does not say %q:\n%s", tc.want, p.output())
			}
			mustContainNone(t, "the refusal", p.output(), "s3cr3t-value")
		})
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOversizedAPIKeysFileIsAConfigError: an API keys file over the
// credential-file limit stops start-up with exit code 2 and a message
// naming JWT_API_KEYS_FILE, not exit 1 with fx's error text.
func TestOversizedAPIKeysFileIsAConfigError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "api-keys")
	b := []byte("api-KEY-0123456789-long-enough\n" + strings.Repeat("#"+strings.Repeat("x", 62)+"\n", 1_360_000/64))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	env := []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/oauth/token", "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s",
		"SERVER_ADDRESS=127.0.0.1", "SERVER_PORT=0", "JWT_API_KEYS_FILE=" + p}
	if code := run(context.Background(), []string{"serve"}, env, &bytes.Buffer{}, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d:\n%s", code, exitConfig, stderr.String())
	}
	if out := stderr.String(); !strings.Contains(out, "JWT_API_KEYS_FILE") || strings.Contains(out, "fx.") {
		t.Errorf("the message does not name JWT_API_KEYS_FILE, or shows fx's error:\n%s", out)
	}
}

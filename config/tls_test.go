package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
)

// TestLoadRedisTLSFiles: the TLS files are read at start-up (Load checks
// the combination, CheckFiles the files); a problem names the key, never
// the file's content.
func TestLoadRedisTLSFiles(t *testing.T) {
	t.Parallel()
	files := redistest.NewTLSFiles(t)
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("not-a-certificate-CONTENT\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"REDIS_HOST=redis.internal", "REDIS_TLS=true"}
	tests := []struct {
		name    string
		env     []string
		wantEnv string // "" means it loads
		want    string
	}{
		{"CA, client certificate and server name", []string{"REDIS_TLS_CA_FILE=" + files.CAFile, "REDIS_TLS_CERT_FILE=" + files.ClientCertFile,
			"REDIS_TLS_KEY_FILE=" + files.ClientKey, "REDIS_TLS_SERVER_NAME=redis.test"}, "", ""},
		{"CA only", []string{"REDIS_TLS_CA_FILE=" + files.CAFile}, "", ""},
		{"unreadable CA", []string{"REDIS_TLS_CA_FILE=/nonexistent/ca.pem"}, "REDIS_TLS_CA_FILE", "no such file"},
		{"CA not PEM", []string{"REDIS_TLS_CA_FILE=" + notPEM}, "REDIS_TLS_CA_FILE", "holds no PEM certificate"},
		{"certificate without key", []string{"REDIS_TLS_CERT_FILE=" + files.ClientCertFile}, "REDIS_TLS_KEY_FILE", "needs its key"},
		{"key without certificate", []string{"REDIS_TLS_KEY_FILE=" + files.ClientKey}, "REDIS_TLS_CERT_FILE", "needs its certificate"},
		{"certificate not PEM", []string{"REDIS_TLS_CERT_FILE=" + notPEM, "REDIS_TLS_KEY_FILE=" + files.ClientKey}, "REDIS_TLS_CERT_FILE", "holds no PEM certificate"},
		{"key of another certificate", []string{"REDIS_TLS_CERT_FILE=" + files.ClientCertFile, "REDIS_TLS_KEY_FILE=" + files.ServerKey}, "REDIS_TLS_KEY_FILE", "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(LoadOptions{Environ: append(append([]string{}, base...), tt.env...)})
			if err == nil {
				err = c.CheckFiles()
			}
			if tt.wantEnv == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Env != tt.wantEnv || !strings.Contains(err.Error(), tt.want) || strings.Count(err.Error(), "config: ") != 1 {
				t.Fatalf("Load error %v, want one naming %s saying %q", err, tt.wantEnv, tt.want)
			}
			if strings.Contains(err.Error(), "CONTENT") || strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Errorf("error %q repeats a file's content", err)
			}
		})
	}
}

package redisstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/domain"
)

// TestTLSWithPrivateCAAndClientCertificate runs against a redis-server
// that speaks only TLS with a certificate of a private CA and requires a
// client certificate (tls-auth-clients yes).
func TestTLSWithPrivateCAAndClientCertificate(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	srv := redistest.StartTLSServer(t, files)
	full := TLSOptions{CAFile: files.CAFile, CertFile: files.ClientCertFile, KeyFile: files.ClientKey}
	tests := []struct {
		name string
		tls  TLSOptions
		ok   bool
	}{
		{"CA and client certificate", full, true},
		{"server name from the certificate", TLSOptions{CAFile: files.CAFile, CertFile: files.ClientCertFile, KeyFile: files.ClientKey, ServerName: files.ServerName}, true},
		{"no client certificate", TLSOptions{CAFile: files.CAFile}, false},
		{"wrong CA", TLSOptions{CAFile: files.OtherCAFile, CertFile: files.ClientCertFile, KeyFile: files.ClientKey}, false},
		{"system roots only", TLSOptions{CertFile: files.ClientCertFile, KeyFile: files.ClientKey}, false},
		{"wrong server name", TLSOptions{CAFile: files.CAFile, CertFile: files.ClientCertFile, KeyFile: files.ClientKey, ServerName: "other.test"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Options{Addrs: []string{srv.Addr}, TLS: true, TLSOptions: tt.tls, DialTimeout: time.Second, KeyPrefix: redistest.Prefix()})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			tok := domain.Token{AccessToken: "t", TokenType: "Bearer", IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
			err = s.Put(ctx, "kyc", tok)
			if err == nil {
				_, err = s.Get(ctx, "kyc")
			}
			if (err == nil) != tt.ok {
				t.Fatalf("Put and Get over TLS: %v, want success %v", err, tt.ok)
			}
		})
	}
	t.Run("TLS off against a TLS-only server", func(t *testing.T) {
		s, err := New(Options{Addrs: []string{srv.Addr}, DialTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := s.Ping(ctx); err == nil {
			t.Fatal("a plaintext client reached the TLS-only server")
		}
	})
}

func TestTLSOptionsConfig(t *testing.T) {
	files := redistest.NewTLSFiles(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello, not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		name string
		o    TLSOptions
		want error // nil: fine
	}{
		{"nothing", TLSOptions{}, nil},
		{"CA only", TLSOptions{CAFile: files.CAFile}, nil},
		{"everything", TLSOptions{CAFile: files.CAFile, CertFile: files.ClientCertFile, KeyFile: files.ClientKey, ServerName: "redis.test"}, nil},
		{"missing CA", TLSOptions{CAFile: missing}, ErrTLSCAFile},
		{"CA not PEM", TLSOptions{CAFile: notPEM}, ErrTLSCAFile},
		{"CA is a key", TLSOptions{CAFile: files.ClientKey}, ErrTLSCAFile},
		{"certificate without key", TLSOptions{CertFile: files.ClientCertFile}, ErrTLSKeyFile},
		{"key without certificate", TLSOptions{KeyFile: files.ClientKey}, ErrTLSCertFile},
		{"missing certificate", TLSOptions{CertFile: missing, KeyFile: files.ClientKey}, ErrTLSCertFile},
		{"certificate not PEM", TLSOptions{CertFile: notPEM, KeyFile: files.ClientKey}, ErrTLSCertFile},
		{"missing key", TLSOptions{CertFile: files.ClientCertFile, KeyFile: missing}, ErrTLSKeyFile},
		{"key of another certificate", TLSOptions{CertFile: files.ClientCertFile, KeyFile: files.ServerKey}, ErrTLSKeyFile},
		{"key not PEM", TLSOptions{CertFile: files.ClientCertFile, KeyFile: notPEM}, ErrTLSKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := tt.o.Config()
			if tt.want == nil {
				if err != nil || cfg == nil {
					t.Fatalf("Config = %v, %v", cfg, err)
				}
				if cfg.MinVersion < 0x0303 || cfg.ServerName != tt.o.ServerName || (tt.o.CAFile != "") != (cfg.RootCAs != nil) || (tt.o.CertFile != "") != (len(cfg.Certificates) == 1) {
					t.Errorf("Config = %+v", cfg)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Config error %v, want %v", err, tt.want)
			}
			key, _ := os.ReadFile(files.ClientKey)
			body := strings.TrimSpace(strings.Join(strings.Split(string(key), "\n")[1:2], ""))
			if strings.Contains(err.Error(), body) || strings.Contains(err.Error(), "hello") {
				t.Errorf("error %q repeats a file's content", err)
			}
		})
	}
	if _, err := New(Options{Addrs: []string{"127.0.0.1:1"}, TLS: true, TLSOptions: TLSOptions{CAFile: missing}}); !errors.Is(err, ErrTLSCAFile) {
		t.Errorf("New with a missing CA file: %v", err)
	}
}

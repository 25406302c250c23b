package tokenservice_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

const invalidClientBody = `{"error":"invalid_client","error_description":"client authentication failed"}`

// rotatingServer is a token service whose client secret the test changes:
// it accepts only the current one (Basic auth), and records every secret
// it was sent.
type rotatingServer struct {
	mu     sync.Mutex
	accept string
	sent   []string
}

func (s *rotatingServer) rotate(secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accept = secret
}

func (s *rotatingServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.sent...)
}

func (s *rotatingServer) handler(w http.ResponseWriter, r *http.Request) {
	_, sec, _ := r.BasicAuth()
	sec, _ = url.QueryUnescape(sec)
	s.mu.Lock()
	s.sent = append(s.sent, sec)
	ok := sec == s.accept
	s.mu.Unlock()
	if !ok {
		answer(401, invalidClientBody)(w, r)
		return
	}
	answer(200, `{"access_token":"`+accessToken+`","expires_in":3600}`)(w, r)
}

func writeFile(t *testing.T, path, contents string) {
	t.Helper()
	// Written aside and renamed, as a secret manager does, so that no
	// reader ever sees half a file.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(contents), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func secretFileIssuer(t *testing.T, srvURL, path string, clk *clocktest.FakeClock) *tokenservice.Issuer {
	t.Helper()
	return newIssuer(t, srvURL, func(o *tokenservice.Options) {
		o.ClientSecret = ""
		o.ClientSecretFile = path
		o.Clock = clk
	})
}

// TestSecretFileRotatedBeforeTheCheckInterval: the token service switches
// to the new secret at the same instant as the file, before the issuer has
// looked at the file again. The refusal makes it look at once and ask
// again: the caller sees a token, not an error.
func TestSecretFileRotatedBeforeTheCheckInterval(t *testing.T) {
	ts := &rotatingServer{accept: "secret-one"}
	srv := serve(t, ts.handler)
	path := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, path, "secret-one\n")
	clk := clocktest.NewFakeClock(now)
	iss := secretFileIssuer(t, srv.URL, path, clk)

	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	writeFile(t, path, "secret-two\n")
	ts.rotate("secret-two")
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("right after the rotation: %v", err)
	}
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	want := []string{"secret-one", "secret-one", "secret-two", "secret-two"}
	if got := ts.seen(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("secrets sent %v, want %v: one refused request, one retry, then the new secret only", got, want)
	}
	if err := iss.CredentialsHealth(); err != nil {
		t.Fatalf("CredentialsHealth = %v", err)
	}
}

// TestSecretFileSeenAfterTheCheckInterval: without a refusal, the new
// secret is used from the first request after CredentialCheckInterval.
func TestSecretFileSeenAfterTheCheckInterval(t *testing.T) {
	ts := &rotatingServer{accept: "secret-one"}
	srv := serve(t, ts.handler)
	path := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, path, "secret-one")
	clk := clocktest.NewFakeClock(now)
	iss := secretFileIssuer(t, srv.URL, path, clk)
	writeFile(t, path, "secret-two")
	ts.rotate("secret-one+two") // accepts neither: only what is sent matters here
	clk.Advance(credfile.DefaultCheckInterval)
	_, _ = iss.Issue(context.Background(), service)
	if got := ts.seen(); len(got) != 1 || got[0] != "secret-two" {
		t.Fatalf("secrets sent %v, want only the new one", got)
	}
}

// TestNegativeCacheBelongsToTheCredential: a refused secret is not sent
// again within the window, but a new secret in the file is tried at once.
func TestNegativeCacheBelongsToTheCredential(t *testing.T) {
	ts := &rotatingServer{accept: "nothing-yet"}
	srv := serve(t, ts.handler)
	path := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, path, "wrong-one")
	clk := clocktest.NewFakeClock(now)
	iss := secretFileIssuer(t, srv.URL, path, clk)

	_, err := iss.Issue(context.Background(), service)
	if tse := tokenServiceError(t, err); tse.Code != "invalid_client" {
		t.Fatalf("first: %v", err)
	}
	if n := len(ts.seen()); n != 1 {
		t.Fatalf("%d requests; want 1 (the file did not change, so no retry)", n)
	}
	_, err = iss.Issue(context.Background(), service)
	if !errors.Is(err, tokenservice.ErrCachedRejection) || len(ts.seen()) != 1 {
		t.Fatalf("second: %v after %d requests; want the cached refusal and no request", err, len(ts.seen()))
	}

	writeFile(t, path, "wrong-two")
	clk.Advance(credfile.DefaultCheckInterval) // well inside the 30 s window
	_, err = iss.Issue(context.Background(), service)
	if errors.Is(err, tokenservice.ErrCachedRejection) {
		t.Fatalf("the new secret was refused for the old one's mistake: %v", err)
	}
	if got := ts.seen(); len(got) != 2 || got[1] != "wrong-two" {
		t.Fatalf("secrets sent %v; want the new one tried once", got)
	}
	_, err = iss.Issue(context.Background(), service)
	if !errors.Is(err, tokenservice.ErrCachedRejection) || len(ts.seen()) != 2 {
		t.Fatalf("the new secret's refusal is not remembered: %v, %d requests", err, len(ts.seen()))
	}
	for _, s := range []string{"wrong-one", "wrong-two"} {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q holds a secret", err)
		}
	}
}

// TestSecretFileUnusableKeepsTheLastGoodSecret: an empty or missing file
// does not take the client down; health says so, without the secret.
func TestSecretFileUnusableKeepsTheLastGoodSecret(t *testing.T) {
	ts := &rotatingServer{accept: "good-secret"}
	srv := serve(t, ts.handler)
	path := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, path, "good-secret")
	clk := clocktest.NewFakeClock(now)
	iss := secretFileIssuer(t, srv.URL, path, clk)

	writeFile(t, path, "")
	clk.Advance(credfile.DefaultCheckInterval)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("with an empty file: %v", err)
	}
	err := iss.CredentialsHealth()
	if err == nil || !strings.Contains(err.Error(), path) || !errors.Is(err, credfile.ErrEmpty) {
		t.Fatalf("CredentialsHealth = %v; want the empty file named", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clk.Advance(credfile.DefaultCheckInterval)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("with the file gone: %v", err)
	}
	if err := iss.CredentialsHealth(); err == nil || strings.Contains(err.Error(), "good-secret") {
		t.Fatalf("CredentialsHealth = %v", err)
	}
	writeFile(t, path, "good-secret")
	clk.Advance(credfile.DefaultCheckInterval)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	if err := iss.CredentialsHealth(); err != nil {
		t.Fatalf("CredentialsHealth after the fix = %v", err)
	}
}

func TestSecretFileErrorsAtNew(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	writeFile(t, empty, "\n")
	for name, tc := range map[string]struct {
		edit func(*tokenservice.Options)
		want string
	}{
		"missing": {func(o *tokenservice.Options) { o.ClientSecret, o.ClientSecretFile = "", filepath.Join(dir, "nope") },
			`client secret file "` + filepath.Join(dir, "nope") + `": no such file`},
		"empty": {func(o *tokenservice.Options) { o.ClientSecret, o.ClientSecretFile = "", empty }, "the file is empty"},
		"both":  {func(o *tokenservice.Options) { o.ClientSecretFile = empty }, "client secret and client secret file are both set"},
		"service both": {func(o *tokenservice.Options) {
			o.Services = map[string]tokenservice.ClientOptions{"kyc": {ClientSecret: "x", ClientSecretFile: empty}}
		}, `service "kyc": client secret and client secret file are both set`},
	} {
		t.Run(name, func(t *testing.T) {
			opts := tokenservice.Options{URL: "https://auth.example.com/token", ClientID: "id", ClientSecret: secret}
			tc.edit(&opts)
			_, err := tokenservice.New(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("error holds the secret: %v", err)
			}
		})
	}
}

// TestServiceInheritsTheSecretFile: a service with the default client's
// credentials reads the same file, and sees its rotation.
func TestServiceInheritsTheSecretFile(t *testing.T) {
	ts := &rotatingServer{accept: "secret-one"}
	srv := serve(t, ts.handler)
	path := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, path, "secret-one")
	clk := clocktest.NewFakeClock(now)
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.ClientSecret, o.ClientSecretFile, o.Clock = "", path, clk
		o.Services = map[string]tokenservice.ClientOptions{"reports": {Scope: "reports"}}
	})
	writeFile(t, path, "secret-two")
	ts.rotate("secret-two")
	if _, err := iss.Issue(context.Background(), "reports"); err != nil {
		t.Fatal(err)
	}
}

// esVerifier is a token service for private_key_jwt that accepts
// assertions signed by one EC key, which the test replaces.
type esVerifier struct {
	mu  sync.Mutex
	pub *ecdsa.PublicKey
	ok  int
}

func (v *esVerifier) accept(pub *ecdsa.PublicKey) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pub = pub
}

func (v *esVerifier) handler(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
	v.mu.Lock()
	pub := v.pub
	v.mu.Unlock()
	valid := false
	if len(parts) == 3 {
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		if err == nil && len(sig) == 64 {
			valid = ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
		}
	}
	if !valid {
		answer(401, invalidClientBody)(w, r)
		return
	}
	v.mu.Lock()
	v.ok++
	v.mu.Unlock()
	answer(200, `{"access_token":"`+accessToken+`","expires_in":3600}`)(w, r)
}

// TestPrivateKeyFileRotation: a new key in the file signs the next
// assertions; a refusal right after the rotation re-reads the file.
func TestPrivateKeyFileRotation(t *testing.T) {
	k1, k2 := testECKey(t, elliptic.P256()), testECKey(t, elliptic.P256())
	v := &esVerifier{pub: &k1.PublicKey}
	srv := serve(t, v.handler)
	path := filepath.Join(t.TempDir(), "key.pem")
	writeFile(t, path, string(mustRead(t, keyFile(t, k1, "pkcs8"))))
	clk := clocktest.NewFakeClock(now)
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.ClientSecret, o.PrivateKeyFile, o.Clock = "", path, clk
	})
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(mustRead(t, keyFile(t, k2, "sec1"))))
	v.accept(&k2.PublicKey)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("right after the key rotation: %v", err)
	}
	clk.Advance(time.Hour)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	if v.ok != 3 {
		t.Fatalf("%d accepted assertions, want 3", v.ok)
	}

	// A key file replaced by something that is not a key keeps the last
	// key in use.
	writeFile(t, path, "not a key")
	clk.Advance(time.Hour)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	if err := iss.CredentialsHealth(); err == nil || !strings.Contains(err.Error(), "no PEM private key block") {
		t.Fatalf("CredentialsHealth = %v", err)
	}
}

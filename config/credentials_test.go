package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadIssuerURLAndFiles(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{Environ: []string{"JWT_TOKEN_ISSUER_URL=https://idp.example.com/realms/acme", "JWT_CLIENT_ID=id",
		"JWT_CLIENT_SECRET_FILE=/run/secrets/client-secret", "JWT_TOKEN_ISSUER_REFRESH=15m"}})
	ts := c.TokenService
	if !ts.Configured() || ts.IssuerURL != "https://idp.example.com/realms/acme" || ts.ClientSecretFile != "/run/secrets/client-secret" ||
		ts.IssuerRefresh != 15*time.Minute {
		t.Fatalf("token service = %+v", ts)
	}
	if ts.AuthMethod != "" {
		t.Errorf("AuthMethod = %q; want it left to the issuer's discovery document", ts.AuthMethod)
	}

	c = mustLoad(t, LoadOptions{Environ: []string{"JWT_TOKEN_SERVICE_URL=https://idp/token", "JWT_CLIENT_ID=id",
		"JWT_CLIENT_CERT_FILE=/tls/tls.crt", "JWT_CLIENT_CERT_KEY_FILE=/tls/tls.key", "JWT_TOKEN_SERVICE_CA_FILE=/tls/ca.crt"}})
	if ts := c.TokenService; ts.AuthMethod != AuthTLSClientAuth || ts.CAFile != "/tls/ca.crt" {
		t.Fatalf("a certificate alone: %+v; want tls_client_auth", ts)
	}
}

func TestLoadReachProblems(t *testing.T) {
	t.Parallel()
	base := []string{"JWT_CLIENT_ID=id"}
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"both URLs", []string{"JWT_TOKEN_SERVICE_URL=https://idp/token", "JWT_TOKEN_ISSUER_URL=https://idp", "JWT_CLIENT_SECRET=s"},
			[]string{"config: JWT_TOKEN_ISSUER_URL (jwt.token.issuer.url): is set together with JWT_TOKEN_SERVICE_URL (jwt.token.service.url); set one of them"}},
		{"both secrets", []string{"JWT_TOKEN_ISSUER_URL=https://idp", "JWT_CLIENT_SECRET=" + clientSecret, "JWT_CLIENT_SECRET_FILE=/s"},
			[]string{"config: JWT_CLIENT_SECRET_FILE (jwt.token.client.secret-file): is set together with JWT_CLIENT_SECRET (jwt.token.client.secret)"}},
		{"tls_client_auth without a certificate", []string{"JWT_TOKEN_SERVICE_URL=https://idp/token", "JWT_CLIENT_AUTH_METHOD=tls_client_auth"},
			[]string{"config: JWT_CLIENT_CERT_FILE (jwt.token.client.cert-file): a client certificate file (and JWT_CLIENT_CERT_KEY_FILE (jwt.token.client.cert-key-file)) is required when JWT_CLIENT_AUTH_METHOD (jwt.token.client.auth-method) is tls_client_auth"}},
		{"no credentials with an issuer", []string{"JWT_TOKEN_ISSUER_URL=https://idp"},
			[]string{"config: JWT_CLIENT_SECRET (jwt.token.client.secret): a client secret is required when JWT_TOKEN_ISSUER_URL (jwt.token.issuer.url) is set"}},
		{"issuer with a fragment", []string{"JWT_TOKEN_ISSUER_URL=https://idp#x", "JWT_CLIENT_SECRET=s"},
			[]string{"config: JWT_TOKEN_ISSUER_URL (jwt.token.issuer.url): \"https://idp\" must not have a fragment (a part after '#')"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{Environ: append(slices.Clone(base), tt.env...)})
			if err == nil {
				t.Fatal("no error")
			}
			if n := strings.Count(err.Error(), "config: "); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
			assertNoSecret(t, err.Error())
		})
	}
}

func TestLoadServiceReachSettings(t *testing.T) {
	t.Parallel()
	yaml := `
jwt:
  token:
    issuer.url: https://idp.example.com
    client: {id: jwtcache, secret-file: /run/secrets/jwtcache/client-secret}
  services:
    partner:
      issuer-url: https://partner-idp.example.com/tenant
      client-id: jwtcache-partner
      client-cert-file: /tls/partner.crt
      client-cert-key-file: /tls/partner.key
      auth-method: self_signed_tls_client_auth
    billing:
      client-secret-file: /run/secrets/billing
`
	c := mustLoad(t, LoadOptions{File: writeYAML(t, yaml)})
	ts := c.TokenService
	if ts.IssuerURL != "https://idp.example.com" || ts.ClientSecretFile != "/run/secrets/jwtcache/client-secret" {
		t.Errorf("default client %+v", ts)
	}
	want := map[string]ServiceClientConfig{
		"partner": {IssuerURL: "https://partner-idp.example.com/tenant", ClientID: "jwtcache-partner", ClientCertFile: "/tls/partner.crt",
			ClientCertKeyFile: "/tls/partner.key", AuthMethod: AuthSelfSignedTLSClientAuth},
		"billing": {ClientSecretFile: "/run/secrets/billing"},
	}
	for name, w := range want {
		if ts.Services[name] != w {
			t.Errorf("service %s = %+v, want %+v", name, ts.Services[name], w)
		}
	}
	if fe := c.IssuerKey("https://partner-idp.example.com/tenant"); fe.YAML != "jwt.services.partner.issuer-url" || fe.Env != "" {
		t.Errorf("IssuerKey(partner) = %+v", fe)
	}
	if fe := c.IssuerKey("https://idp.example.com"); fe.Env != "JWT_TOKEN_ISSUER_URL" {
		t.Errorf("IssuerKey(default) = %+v", fe)
	}

	bad := `
jwt.services:
  kyc:
    url: https://idp/token
    issuer-url: https://idp
    client-secret: "s"
    client-secret-file: /s
    client-cert-file: /c
`
	_, err := Load(LoadOptions{File: writeYAML(t, bad), Environ: []string{}})
	for _, w := range []string{
		"config: jwt.services.kyc.issuer-url: is set together with jwt.services.kyc.url; set one of them",
		"config: jwt.services.kyc.client-secret-file: is set together with jwt.services.kyc.client-secret",
		"config: jwt.services.kyc.client-cert-file: and jwt.services.kyc.client-cert-key-file go together",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("no problem %q in:\n%v", w, err)
		}
	}
}

// testCertFiles writes a self-signed certificate and its key and returns
// their paths and the key's PEM.
func testCertFiles(t *testing.T, dir string) (cert, key string, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "jwtcache"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	cert, key = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	must(t, os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	must(t, os.WriteFile(key, keyPEM, 0o600))
	return cert, key, keyPEM
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCheckFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key, keyPEM := testCertFiles(t, dir)
	secretPath := filepath.Join(dir, "secret")
	must(t, os.WriteFile(secretPath, []byte(clientSecret+"\n"), 0o600))
	empty := filepath.Join(dir, "empty")
	must(t, os.WriteFile(empty, []byte("\n"), 0o600))
	notPEM := filepath.Join(dir, "not.pem")
	must(t, os.WriteFile(notPEM, []byte(clientSecret), 0o600))

	good := Default()
	ts := &good.TokenService
	ts.URL, ts.ClientID, ts.ClientSecretFile = "https://idp/token", "id", secretPath
	ts.ClientCertFile, ts.ClientCertKeyFile, ts.CAFile = cert, key, cert
	ts.PrivateKeyFile = key
	ts.Services = map[string]ServiceClientConfig{"kyc": {ClientSecretFile: secretPath}}
	if err := good.CheckFiles(); err != nil {
		t.Fatalf("CheckFiles(good) = %v", err)
	}

	bad := good
	bad.TokenService.ClientSecretFile = filepath.Join(dir, "missing")
	bad.TokenService.PrivateKeyFile = notPEM
	bad.TokenService.ClientCertKeyFile = secretPath
	bad.TokenService.CAFile = notPEM
	bad.TokenService.Services = map[string]ServiceClientConfig{"kyc": {ClientSecretFile: empty}}
	err := bad.CheckFiles()
	for _, w := range []string{
		`config: JWT_CLIENT_SECRET_FILE (jwt.token.client.secret-file): file "` + filepath.Join(dir, "missing") + `": no such file or directory`,
		`config: JWT_CLIENT_PRIVATE_KEY_FILE (jwt.token.client.private-key-file): file "` + notPEM + `": no PEM private key block`,
		`config: JWT_CLIENT_CERT_FILE (jwt.token.client.cert-file): files "` + cert + `", "` + secretPath + `": tls:`,
		`config: JWT_TOKEN_SERVICE_CA_FILE (jwt.token.service.ca-file): file "` + notPEM + `" holds no PEM certificate`,
		`config: jwt.services.kyc.client-secret-file: file "` + empty + `": the file is empty`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("no problem %q in:\n%v", w, err)
		}
	}
	if err != nil && (strings.Contains(err.Error(), clientSecret) || strings.Contains(err.Error(), strings.Split(string(keyPEM), "\n")[1])) {
		t.Errorf("a problem shows a secret or key material:\n%v", err)
	}
}

package tokenservice_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// testCA is a certificate authority the test makes up.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

var serial = struct {
	sync.Mutex
	n int64
}{}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(serial.n)
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a certificate for name: a server certificate for the
// loopback addresses, or a client certificate. It returns the PEM
// certificate and key.
func (ca *testCA) issue(t *testing.T, name string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}

// mtlsServer is a token service on TLS with a certificate from serverCA
// that requires a client certificate from clientCA. It answers with a
// token bound to the certificate presented (cnf x5t#S256) and records the
// presented certificates' names and the forms.
type mtlsServer struct {
	*httptest.Server
	mu    sync.Mutex
	names []string
	forms []string
	auth  []string
}

func startMTLS(t *testing.T, serverCA, clientCA *testCA) *mtlsServer {
	t.Helper()
	s := &mtlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		peer := r.TLS.PeerCertificates[0]
		s.mu.Lock()
		s.names = append(s.names, peer.Subject.CommonName)
		s.forms = append(s.forms, r.PostForm.Encode())
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		thumb := sha256.Sum256(peer.Raw)
		answer(200, `{"access_token":"`+boundJWT(t, base64.RawURLEncoding.EncodeToString(thumb[:]))+`","expires_in":3600}`)(w, r)
	}))
	certPEM, keyPEM := serverCA.issue(t, "token service", true)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(clientCA.cert)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *mtlsServer) seen() (names, forms, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.names...), append([]string(nil), s.forms...), append([]string(nil), s.auth...)
}

// boundJWT is an unsigned JWT with a cnf claim holding thumb ("" for
// none).
func boundJWT(t *testing.T, thumb string) string {
	t.Helper()
	claims := map[string]any{"sub": clientID, "exp": time.Now().Add(time.Hour).Unix()}
	if thumb != "" {
		claims["cnf"] = map[string]string{"x5t#S256": thumb}
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding
	return b64.EncodeToString([]byte(`{"alg":"ES256","typ":"JWT"}`)) + "." + b64.EncodeToString(p) + ".c2ln"
}

func writeBytes(t *testing.T, path string, b []byte) string {
	t.Helper()
	writeFile(t, path, string(b))
	return path
}

// clientCertFiles writes a client certificate from ca for name and
// returns the paths of the certificate and key files.
func clientCertFiles(t *testing.T, dir string, ca *testCA, name string) (string, string) {
	t.Helper()
	c, k := ca.issue(t, name, false)
	return writeBytes(t, filepath.Join(dir, "tls.crt"), c), writeBytes(t, filepath.Join(dir, "tls.key"), k)
}

func TestMutualTLSClientAuth(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "Company Root CA"), newTestCA(t, "Company Client CA")
	srv := startMTLS(t, serverCA, clientCA)
	dir := t.TempDir()
	caFile := writeBytes(t, filepath.Join(dir, "ca.pem"), serverCA.pem)
	certFile, keyFile := clientCertFiles(t, dir, clientCA, "jwtcache-1")
	clk := clocktest.NewFakeClock(now)
	iss := newIssuer(t, srv.URL+"/token", func(o *tokenservice.Options) {
		o.ClientSecret = ""
		o.AuthMethod = tokenservice.AuthTLSClientAuth
		o.ClientCertFile, o.ClientCertKeyFile = certFile, keyFile
		o.CAFile = caFile
		o.Clock = clk
	})
	tok, err := iss.Issue(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	if !tok.BoundToCertificate {
		t.Error("BoundToCertificate = false for a token with cnf x5t#S256")
	}
	names, forms, auth := srv.seen()
	if names[0] != "jwtcache-1" || auth[0] != "" || forms[0] != "client_id="+strings.ReplaceAll(strings.ReplaceAll(clientID, ":", "%3A"), "+", "%2B")+"&grant_type=client_credentials&scope=api.read+api.write" {
		t.Errorf("request: certificate %q, Authorization %q, form %q; want the certificate, client_id in the form, no secret", names[0], auth[0], forms[0])
	}

	// Rotation: the files get a new certificate; the connection made with
	// the old one is not reused.
	clientCertFiles(t, dir, clientCA, "jwtcache-2")
	clk.Advance(credfile.DefaultCheckInterval)
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatal(err)
	}
	if names, _, _ := srv.seen(); names[len(names)-1] != "jwtcache-2" {
		t.Fatalf("certificates presented %v; want the new one after the rotation", names)
	}
}

func TestMutualTLSFailuresAreClear(t *testing.T) {
	serverCA, clientCA, otherCA := newTestCA(t, "Company Root CA"), newTestCA(t, "Company Client CA"), newTestCA(t, "Someone Else")
	srv := startMTLS(t, serverCA, clientCA)
	dir := t.TempDir()
	caFile := writeBytes(t, filepath.Join(dir, "ca.pem"), serverCA.pem)
	good, goodKey := clientCertFiles(t, t.TempDir(), clientCA, "jwtcache")
	wrong, wrongKey := clientCertFiles(t, t.TempDir(), otherCA, "jwtcache")
	tests := []struct {
		name string
		edit func(*tokenservice.Options)
		want string
	}{
		{"company CA not trusted", func(o *tokenservice.Options) {
			o.ClientCertFile, o.ClientCertKeyFile = good, goodKey
		}, "certificate signed by unknown authority"},
		{"no client certificate", func(o *tokenservice.Options) {
			o.CAFile = caFile
		}, "tls: certificate required"},
		{"certificate from another CA", func(o *tokenservice.Options) {
			o.CAFile = caFile
			o.ClientCertFile, o.ClientCertKeyFile = wrong, wrongKey
		}, "tls: unknown certificate authority"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			iss := newIssuer(t, srv.URL+"/token", tt.edit)
			_, err := iss.Issue(context.Background(), service)
			tse := tokenServiceError(t, err)
			if tse.Kind != domain.Unreachable || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (kind %v); want Unreachable saying %q", err, tse.Kind, tt.want)
			}
			assertNoCredential(t, err)
		})
	}
}

// TestClientCertificateAloneMeansTLSClientAuth: with only a certificate,
// the client authenticates with it; with a secret too, it presents the
// certificate (binding its tokens) and sends the secret.
func TestClientCertificateAloneMeansTLSClientAuth(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "Root"), newTestCA(t, "Clients")
	srv := startMTLS(t, serverCA, clientCA)
	caFile := writeBytes(t, filepath.Join(t.TempDir(), "ca.pem"), serverCA.pem)
	cert, key := clientCertFiles(t, t.TempDir(), clientCA, "jwtcache")
	iss := newIssuer(t, srv.URL+"/token", func(o *tokenservice.Options) {
		o.ClientSecret, o.CAFile = "", caFile
		o.Services = map[string]tokenservice.ClientOptions{
			"kyc":     {ClientID: "kyc-client", ClientCertFile: cert, ClientCertKeyFile: key},
			"reports": {ClientID: "reports-client", ClientSecret: "reports-secret", ClientCertFile: cert, ClientCertKeyFile: key},
		}
	})
	for _, s := range []string{"kyc", "reports"} {
		if _, err := iss.Issue(context.Background(), s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	_, forms, auth := srv.seen()
	if forms[0] != "client_id=kyc-client&grant_type=client_credentials&scope=api.read+api.write" || auth[0] != "" {
		t.Errorf("certificate alone: form %q, Authorization %q", forms[0], auth[0])
	}
	if !strings.HasPrefix(auth[1], "Basic ") || strings.Contains(forms[1], "client_id") {
		t.Errorf("certificate and secret: form %q, Authorization %q; want client_secret_basic", forms[1], auth[1])
	}
}

func TestUnboundTokenIsNotMarked(t *testing.T) {
	srv := serve(t, answer(200, `{"access_token":"`+boundJWT(t, "")+`","expires_in":60}`))
	tok, err := newIssuer(t, srv.URL).Issue(context.Background(), service)
	if err != nil || tok.BoundToCertificate {
		t.Fatalf("Issue = %v, bound %v; want an unbound token", err, tok.BoundToCertificate)
	}
}

func TestTLSOptionsErrorsAtNew(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "CA")
	cert, key := clientCertFiles(t, dir, ca, "jwtcache")
	notPEM := writeBytes(t, filepath.Join(dir, "ca-not-pem"), []byte("hello"))
	otherKey := writeBytes(t, filepath.Join(dir, "other.key"), mustRead(t, keyFile(t, testECKey(t, elliptic.P256()), "pkcs8")))
	for name, tc := range map[string]struct {
		edit func(*tokenservice.Options)
		want string
	}{
		"cert without key": {func(o *tokenservice.Options) { o.ClientCertFile = cert }, "go together"},
		"key without cert": {func(o *tokenservice.Options) { o.ClientCertKeyFile = key }, "go together"},
		"tls_client_auth without cert": {func(o *tokenservice.Options) { o.AuthMethod = tokenservice.AuthTLSClientAuth },
			"auth method tls_client_auth needs a client certificate file"},
		"key of another certificate": {func(o *tokenservice.Options) { o.ClientCertFile, o.ClientCertKeyFile = cert, otherKey },
			"private key does not match public key"},
		"CA file missing":   {func(o *tokenservice.Options) { o.CAFile = filepath.Join(dir, "nope.pem") }, "no such file"},
		"CA file not PEM":   {func(o *tokenservice.Options) { o.CAFile = notPEM }, "holds no PEM certificate"},
		"CA and HTTPClient": {func(o *tokenservice.Options) { o.CAFile, o.HTTPClient = notPEM, http.DefaultClient }, "Options.HTTPClient"},
		"cert and HTTPClient": {func(o *tokenservice.Options) {
			o.ClientCertFile, o.ClientCertKeyFile, o.HTTPClient = cert, key, http.DefaultClient
		}, "Options.HTTPClient"},
	} {
		t.Run(name, func(t *testing.T) {
			opts := tokenservice.Options{URL: "https://auth.example.com/token", ClientID: "id", ClientSecret: secret}
			tc.edit(&opts)
			_, err := tokenservice.New(opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v; want %q", err, tc.want)
			}
			keyPEM, _ := os.ReadFile(key)
			body := strings.Split(string(keyPEM), "\n")[1]
			if strings.Contains(err.Error(), body) || strings.Contains(err.Error(), secret) {
				t.Fatalf("error holds key material: %v", err)
			}
		})
	}
}

// TestDiscoveryMTLSAlias: a client presenting a certificate uses the
// issuer's mutual-TLS token endpoint (RFC 8705 §5); the plain one is left
// to clients without.
func TestDiscoveryMTLSAlias(t *testing.T) {
	serverCA, clientCA := newTestCA(t, "Root"), newTestCA(t, "Clients")
	mtls := startMTLS(t, serverCA, clientCA)
	is := startIssuer(t, "", "/.well-known/openid-configuration", tokenservice.AuthClientSecretBasic, tokenservice.AuthTLSClientAuth)
	is.set("mtls_endpoint_aliases", map[string]string{"token_endpoint": mtls.URL + "/token"})
	caFile := writeBytes(t, filepath.Join(t.TempDir(), "ca.pem"), serverCA.pem)
	cert, key := clientCertFiles(t, t.TempDir(), clientCA, "jwtcache")
	iss, err := discoveryIssuer(t, is.URL, func(o *tokenservice.Options) {
		o.ClientSecret, o.CAFile = "", caFile
		o.ClientCertFile, o.ClientCertKeyFile = cert, key
		o.Services = map[string]tokenservice.ClientOptions{"plain": {ClientID: "plain", ClientSecret: "plain-secret"}}
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := iss.Issue(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	if names, forms, _ := mtls.seen(); len(names) != 1 || !strings.HasPrefix(forms[0], "client_id=") || !tok.BoundToCertificate {
		t.Fatalf("mTLS endpoint saw %v %v, bound %v; want one tls_client_auth request", names, forms, tok.BoundToCertificate)
	}
	if _, err := iss.Issue(context.Background(), "plain"); err != nil {
		t.Fatal(err)
	}
	if s := is.rec.last(t); s.basicID != "plain" {
		t.Fatalf("plain client: %+v; want the plain token endpoint with its secret", s)
	}
}

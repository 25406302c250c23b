package transport_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/transport"
	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// clientCA makes client certificates for the tests.
type clientCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	n    int64
}

func newClientCA(t *testing.T) *clientCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Client CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &clientCA{cert: cert, key: key, n: 1}
}

// write writes a client certificate for name and its key to certFile and
// keyFile, replacing them whole.
func (ca *clientCA) write(t *testing.T, name, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ca.n++
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.n), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	for path, b := range map[string][]byte{
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
	} {
		if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestClientCertificateBase: the Transport presents the client
// certificate to a resource server that requires one, follows a rotation
// of the files, and a Transport without it is refused.
func TestClientCertificateBase(t *testing.T) {
	ca := newClientCA(t)
	var mu sync.Mutex
	var names, auths []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		names = append(names, r.TLS.PeerCertificates[0].Subject.CommonName)
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca.write(t, "jwtcache-1", certFile, keyFile)
	clk := clocktest.NewFakeClock(time.Now())
	base, err := transport.ClientCertificateBase(certFile, keyFile, transport.CertificateOptions{RootCAs: roots, Clock: clk, Logger: discard})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(base.CloseIdleConnections)
	host := strings.TrimPrefix(srv.URL, "https://")
	client := &http.Client{Transport: &transport.Transport{Source: &fakeSource{}, Base: base, Hosts: map[string]string{host: "kyc"}}}
	get := func(c *http.Client) error {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL+"/accounts", nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	if err := get(client); err != nil {
		t.Fatal(err)
	}
	ca.write(t, "jwtcache-2", certFile, keyFile)
	clk.Advance(credfile.DefaultCheckInterval)
	if err := get(client); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if strings.Join(names, ",") != "jwtcache-1,jwtcache-2" || auths[0] != "Bearer tok-1" {
		t.Errorf("certificates %v, Authorization %v; want the rotated certificate on the next request, with the token", names, auths)
	}
	mu.Unlock()
	if base.Err() != nil {
		t.Errorf("Err = %v", base.Err())
	}

	plain := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	t.Cleanup(plain.CloseIdleConnections)
	err = get(&http.Client{Transport: &transport.Transport{Source: &fakeSource{}, Base: plain, Rule: func(string) (string, bool) { return "kyc", true }}})
	if err == nil || !strings.Contains(err.Error(), "certificate required") {
		t.Fatalf("without the certificate: %v; want the server's certificate required alert", err)
	}

	if _, err := transport.ClientCertificateBase(certFile, filepath.Join(dir, "missing.key"), transport.CertificateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "missing.key") {
		t.Fatalf("a missing key file: %v", err)
	}
}

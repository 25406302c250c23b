package redistest

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
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TLSFiles are PEM files of a private CA, a server certificate it signed
// for 127.0.0.1 and "redis.test", a client certificate it signed, and
// another CA that signed nothing here.
type TLSFiles struct {
	Dir                       string
	CAFile                    string
	ServerCertFile, ServerKey string
	ClientCertFile, ClientKey string
	OtherCAFile               string
	ServerName                string
}

// NewTLSFiles generates the files in a temporary directory.
func NewTLSFiles(t testing.TB) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	f := TLSFiles{Dir: dir, ServerName: "redis.test"}
	ca, caKey := newCA(t, "jwtcache test CA")
	other, _ := newCA(t, "some other CA")
	f.CAFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", ca.Raw)
	f.OtherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", other.Raw)
	f.ServerCertFile, f.ServerKey = leaf(t, dir, "server", ca, caKey, func(c *x509.Certificate) {
		c.DNSNames = []string{f.ServerName}
		c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	})
	f.ClientCertFile, f.ClientKey = leaf(t, dir, "client", ca, caKey, func(c *x509.Certificate) {
		c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	})
	return f
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// leaf writes a certificate signed by ca and its key; edit sets its names
// and uses.
func leaf(t testing.TB, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, edit func(*x509.Certificate)) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	edit(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+"-key.pem", "PRIVATE KEY", pkcs8)
}

func writePEM(t testing.TB, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ClientConfig is a TLS configuration that trusts f's CA and presents its
// client certificate.
func (f TLSFiles) ClientConfig(t testing.TB) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil || !pool.AppendCertsFromPEM(caPEM) {
		t.Fatalf("read CA %s: %v", f.CAFile, err)
	}
	cert, err := tls.LoadX509KeyPair(f.ClientCertFile, f.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{cert}, ServerName: f.ServerName}
}

// StartTLSServer starts a private redis-server that speaks only TLS, with
// f's server certificate, and requires clients to present a certificate
// f's CA signed (tls-auth-clients yes).
func StartTLSServer(t testing.TB, f TLSFiles) *Server {
	t.Helper()
	cfg := f.ClientConfig(t)
	ready := func(ctx context.Context, addr string) bool {
		c := redis.NewClient(&redis.Options{Addr: addr, TLSConfig: cfg, MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
		defer c.Close()
		return c.Ping(ctx).Err() == nil
	}
	return StartServerWith(t, ready, func(port string) []string {
		return []string{
			"--port", "0", "--tls-port", port,
			"--tls-cert-file", f.ServerCertFile, "--tls-key-file", f.ServerKey,
			"--tls-ca-cert-file", f.CAFile, "--tls-auth-clients", "yes",
		}
	})
}

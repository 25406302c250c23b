package transport

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/ports"
)

// CertificateOptions tunes ClientCertificateBase. Every field is optional.
type CertificateOptions struct {
	// Base is the transport to present the certificate on; it is cloned,
	// not changed. Default: http.DefaultTransport.
	Base *http.Transport
	// RootCAs are the CAs trusted for the resource servers; default the
	// system's (or Base's, when it sets them). credfile.CertPool adds a
	// company CA file to the system's.
	RootCAs *x509.CertPool
	// CheckInterval, Clock and Logger are as in credfile.Options.
	CheckInterval time.Duration
	Clock         ports.Clock
	Logger        *slog.Logger
}

// CertificateBase is an http.RoundTripper, for Transport.Base, that
// presents a TLS client certificate to the servers it calls. A token the
// token service bound to jwtcache's certificate (RFC 8705 §3:
// domain.Token.BoundToCertificate, boundToCertificate in the REST answers)
// is accepted by resource servers only over a connection presenting the
// same certificate: give the Transport the certificate files jwtcache
// presents to the token service (JWT_CLIENT_CERT_FILE and
// JWT_CLIENT_CERT_KEY_FILE).
//
// The files are read again when they change (see package credfile), and
// the connections made with the previous certificate are closed, so that
// tokens and connections move to the new certificate together. It is safe
// for concurrent use.
type CertificateBase struct {
	file *credfile.File[*tls.Certificate]
	tr   *http.Transport
	// gen is the certificate generation of the pooled connections.
	gen atomic.Uint64
}

var _ http.RoundTripper = (*CertificateBase)(nil)

// ClientCertificateBase reads the PEM certificate (chain, leaf first) at
// certFile and its unencrypted key at keyFile and returns the base that
// presents them. Its error names the files, never the key.
func ClientCertificateBase(certFile, keyFile string, opts CertificateOptions) (*CertificateBase, error) {
	f, err := credfile.OpenCertificate(certFile, keyFile, credfile.Options{
		Name: "client certificate", CheckInterval: opts.CheckInterval, Clock: opts.Clock, Logger: opts.Logger,
	})
	if err != nil {
		return nil, err
	}
	base := opts.Base
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	tr := base.Clone()
	if tr.TLSClientConfig == nil {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if opts.RootCAs != nil {
		tr.TLSClientConfig.RootCAs = opts.RootCAs
	}
	tr.TLSClientConfig.Certificates = nil
	tr.TLSClientConfig.GetClientCertificate = credfile.GetClientCertificate(f)
	b := &CertificateBase{file: f, tr: tr}
	_, gen := f.Current()
	b.gen.Store(gen)
	return b, nil
}

// RoundTrip sends req over a connection presenting the current
// certificate.
func (b *CertificateBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if _, gen := b.file.Current(); b.gen.Swap(gen) != gen {
		b.tr.CloseIdleConnections()
	}
	return b.tr.RoundTrip(req)
}

// Err is the problem of the certificate files, nil while they read well;
// otherwise the last good certificate is still presented (see
// credfile.File.Err).
func (b *CertificateBase) Err() error { return b.file.Err() }

// CloseIdleConnections closes the pooled connections.
func (b *CertificateBase) CloseIdleConnections() { b.tr.CloseIdleConnections() }

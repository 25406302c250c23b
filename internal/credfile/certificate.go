package credfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// Certificate is the Parser of a client certificate: contents are the PEM
// certificate (chain, leaf first) and the PEM unencrypted private key, in
// that order. Its errors (crypto/tls's) say what is wrong, never what the
// key holds.
func Certificate(contents [][]byte) (*tls.Certificate, error) {
	if len(contents) != 2 {
		return nil, errors.New("want a certificate file and a key file")
	}
	cert, err := tls.X509KeyPair(contents[0], contents[1])
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, errors.New("the certificate does not parse")
		}
	}
	return &cert, nil
}

// OpenCertificate opens the client certificate at certFile with its key
// at keyFile (see Open and Certificate).
func OpenCertificate(certFile, keyFile string, opts Options) (*File[*tls.Certificate], error) {
	return Open([]string{certFile, keyFile}, Certificate, opts)
}

// GetClientCertificate is a tls.Config.GetClientCertificate that presents
// f's current certificate, so that every new TLS connection uses the
// certificate the files hold now.
func GetClientCertificate(f *File[*tls.Certificate]) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		c, _ := f.Current()
		return c, nil
	}
}

// CertPool is the system's trusted roots plus the PEM certificates of
// caFile, for a server whose certificate comes from a company CA. The
// file adds to the system roots rather than replacing them, as most
// products do (curl --cacert aside): pointing jwtcache at a company CA
// must not break a token service with a public certificate. An empty
// caFile gives nil, which crypto/tls reads as the system roots.
func CertPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil
	}
	_, b, err := readFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", caFile, err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool() // no system roots here (scratch image): the file's alone
	}
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%q holds no PEM certificate", caFile)
	}
	return pool, nil
}

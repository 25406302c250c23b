// Package tlsfiles builds a client TLS configuration from PEM files: a CA
// that replaces the system roots, and a client certificate with its key.
// The Redis store dials with it, and the configuration check reads the
// same files through it at start-up, so that both agree on what a usable
// file is and a bad one stops start-up naming its key. Its errors never
// repeat a file's content.
package tlsfiles

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Sentinel errors of Files.Config, saying which file is at fault.
var (
	ErrCAFile   = errors.New("TLS CA file")
	ErrCertFile = errors.New("TLS client certificate file")
	ErrKeyFile  = errors.New("TLS client key file")
)

// Files say whom to trust and who to be. Every field is optional.
type Files struct {
	// CAFile is a PEM file of the CA certificates that sign the servers'
	// certificates (a private CA); empty trusts the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its private
	// key; both or neither.
	CertFile, KeyFile string
	// ServerName is the name the servers' certificates must carry; empty
	// means the host dialled.
	ServerName string
}

// Config reads the files and returns the TLS configuration they describe
// (TLS 1.2 or later), or an error wrapping ErrCAFile, ErrCertFile or
// ErrKeyFile.
func (o Files) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := readFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w %q holds no PEM certificate", ErrCAFile, o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		return nil, fmt.Errorf("%w is missing: a client certificate needs its key", ErrKeyFile)
	case o.CertFile == "" && o.KeyFile != "":
		return nil, fmt.Errorf("%w is missing: a client key needs its certificate", ErrCertFile)
	case o.CertFile != "":
		certPEM, err := readFile(o.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrCertFile, err)
		}
		if !holdsCertificate(certPEM) {
			return nil, fmt.Errorf("%w %q holds no PEM certificate", ErrCertFile, o.CertFile)
		}
		keyPEM, err := readFile(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrKeyFile, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// crypto/tls's messages name what is wrong, never the content.
			return nil, fmt.Errorf("%w %q: %w", ErrKeyFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// readFile reads path; its error names the path and the cause only.
func readFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return nil, fmt.Errorf("cannot read %q: %w", path, pe.Err)
	}
	return b, err
}

// holdsCertificate reports whether data has a PEM CERTIFICATE block.
func holdsCertificate(data []byte) bool {
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return false
		}
		if b.Type == "CERTIFICATE" {
			return true
		}
	}
}

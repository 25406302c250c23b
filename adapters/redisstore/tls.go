package redisstore

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Sentinel errors of TLSOptions.Config, saying which file is at fault. The
// errors never repeat a file's content.
var (
	ErrTLSCAFile   = errors.New("TLS CA file")
	ErrTLSCertFile = errors.New("TLS client certificate file")
	ErrTLSKeyFile  = errors.New("TLS client key file")
)

// TLSOptions say whom to trust and who to be when Options.TLS is on. Every
// field is optional.
type TLSOptions struct {
	// CAFile is a PEM file of the CA certificates that sign the Redis
	// servers' certificates (a private CA); empty trusts the system roots.
	CAFile string
	// CertFile and KeyFile are the PEM client certificate and its private
	// key, for servers that require one (tls-auth-clients yes); both or
	// neither.
	CertFile, KeyFile string
	// ServerName is the name the servers' certificates must carry; empty
	// means the host of each address dialled.
	ServerName string
}

// Config reads the files and returns the TLS configuration they describe
// (TLS 1.2 or later), or an error wrapping ErrTLSCAFile, ErrTLSCertFile or
// ErrTLSKeyFile.
func (o TLSOptions) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.ServerName}
	if o.CAFile != "" {
		pem, err := readFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTLSCAFile, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w %q holds no PEM certificate", ErrTLSCAFile, o.CAFile)
		}
		cfg.RootCAs = pool
	}
	switch {
	case o.CertFile != "" && o.KeyFile == "":
		return nil, fmt.Errorf("%w is missing: a client certificate needs its key", ErrTLSKeyFile)
	case o.CertFile == "" && o.KeyFile != "":
		return nil, fmt.Errorf("%w is missing: a client key needs its certificate", ErrTLSCertFile)
	case o.CertFile != "":
		certPEM, err := readFile(o.CertFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTLSCertFile, err)
		}
		if !holdsCertificate(certPEM) {
			return nil, fmt.Errorf("%w %q holds no PEM certificate", ErrTLSCertFile, o.CertFile)
		}
		keyPEM, err := readFile(o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrTLSKeyFile, err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			// crypto/tls's messages name what is wrong, never the content.
			return nil, fmt.Errorf("%w %q: %w", ErrTLSKeyFile, o.KeyFile, err)
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

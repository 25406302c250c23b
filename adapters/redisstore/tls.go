package redisstore

import (
	"crypto/tls"

	"github.com/jwtcache/jwtcache/internal/tlsfiles"
)

// Sentinel errors of TLSOptions.Config, saying which file is at fault. The
// errors never repeat a file's content.
var (
	ErrTLSCAFile   = tlsfiles.ErrCAFile
	ErrTLSCertFile = tlsfiles.ErrCertFile
	ErrTLSKeyFile  = tlsfiles.ErrKeyFile
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
// ErrTLSKeyFile. The configuration's start-up check reads them the same
// way (package tlsfiles).
func (o TLSOptions) Config() (*tls.Config, error) {
	return tlsfiles.Files(o).Config()
}

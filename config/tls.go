package config

import (
	"errors"

	"github.com/jwtcache/jwtcache/internal/tlsfiles"
)

// tlsProblems are the combinations of the Redis TLS keys that cannot
// work: a file set while TLS is off (a CA file with TLS off would send the
// password in clear to a server the operator meant to verify), and half a
// client certificate. It reads no file (see checkTLSFiles).
func (r RedisConfig) tlsProblems() []error {
	var errs []error
	if !r.TLS {
		for _, f := range []struct{ env, path string }{
			{"REDIS_TLS_CA_FILE", r.TLSCAFile}, {"REDIS_TLS_CERT_FILE", r.TLSCertFile}, {"REDIS_TLS_KEY_FILE", r.TLSKeyFile},
		} {
			if f.path != "" {
				errs = append(errs, fieldError(f.env, "is set, but "+ref("REDIS_TLS")+" is false: set it to true to dial Redis with TLS"))
			}
		}
		return errs
	}
	switch {
	case r.TLSCertFile != "" && r.TLSKeyFile == "":
		errs = append(errs, fieldError("REDIS_TLS_KEY_FILE", "is not set, but "+ref("REDIS_TLS_CERT_FILE")+" is: a client certificate needs its key"))
	case r.TLSCertFile == "" && r.TLSKeyFile != "":
		errs = append(errs, fieldError("REDIS_TLS_CERT_FILE", "is not set, but "+ref("REDIS_TLS_KEY_FILE")+" is: a client key needs its certificate"))
	}
	return errs
}

// checkTLSFiles reads the Redis TLS files as the store will at start-up
// (both through package tlsfiles),
// and names the key of one that is unreadable or does not hold what it
// should, never its content. Nothing when TLS is off (tlsProblems says
// why a file would be wrong then).
func (r RedisConfig) checkTLSFiles() error {
	if !r.TLS || (r.TLSCertFile == "") != (r.TLSKeyFile == "") {
		return nil
	}
	_, err := tlsfiles.Files{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile, ServerName: r.TLSServerName}.Config()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tlsfiles.ErrCAFile):
		return fieldError("REDIS_TLS_CA_FILE", err.Error())
	case errors.Is(err, tlsfiles.ErrCertFile):
		return fieldError("REDIS_TLS_CERT_FILE", err.Error())
	default:
		return fieldError("REDIS_TLS_KEY_FILE", err.Error())
	}
}

package config

import (
	"errors"

	"github.com/jwtcache/jwtcache/adapters/redisstore"
)

// TLSOptions are the Redis store's TLS settings of r.
func (r RedisConfig) TLSOptions() redisstore.TLSOptions {
	return redisstore.TLSOptions{CAFile: r.TLSCAFile, CertFile: r.TLSCertFile, KeyFile: r.TLSKeyFile, ServerName: r.TLSServerName}
}

// tlsProblems checks the TLS files: set only with TLS on (a CA file with
// TLS off would send the password in clear to a server the operator meant
// to verify), readable, and holding what they should, each problem naming
// its key and never a file's content.
func (r RedisConfig) tlsProblems() []error {
	files := []struct{ env, path string }{
		{"REDIS_TLS_CA_FILE", r.TLSCAFile}, {"REDIS_TLS_CERT_FILE", r.TLSCertFile}, {"REDIS_TLS_KEY_FILE", r.TLSKeyFile},
	}
	if !r.TLS {
		var errs []error
		for _, f := range files {
			if f.path != "" {
				errs = append(errs, fieldError(f.env, "is set, but "+ref("REDIS_TLS")+" is false: set it to true to dial Redis with TLS"))
			}
		}
		return errs
	}
	_, err := r.TLSOptions().Config()
	switch {
	case err == nil:
		return nil
	case errors.Is(err, redisstore.ErrTLSCAFile):
		return []error{fieldError("REDIS_TLS_CA_FILE", err.Error())}
	case errors.Is(err, redisstore.ErrTLSCertFile):
		return []error{fieldError("REDIS_TLS_CERT_FILE", err.Error())}
	default:
		return []error{fieldError("REDIS_TLS_KEY_FILE", err.Error())}
	}
}

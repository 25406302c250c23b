package config

import (
	"fmt"
	"net"
	"strings"
	"time"
)

// MinHealthCheckInterval is the shortest JWT_HEALTH_CHECK_INTERVAL: probing
// more often would hammer the token service. It is the core's own floor
// (app.MinHealthCheckInterval).
const MinHealthCheckInterval = time.Second

// durationAtLeast is the check of a duration that must be at least lo.
func durationAtLeast(lo time.Duration) func(time.Duration) string {
	return func(d time.Duration) string {
		if d < lo {
			return fmt.Sprintf("%s must be at least %s", d, lo)
		}
		return ""
	}
}

// serverNameValue reads a TLS server name: a host name (RFC 1123: dot-
// separated labels of 1 to 63 letters, digits and hyphens, no hyphen at
// either end, 253 characters at most, one final dot allowed) or an IP
// address, which is what a certificate can name.
func serverNameValue(field func(*Config) *string) binding {
	return stringValue(field, func(s string) string {
		if s == "" || validHostName(s) || net.ParseIP(s) != nil {
			return ""
		}
		return fmt.Sprintf("%s is not a host name or IP address (letters, digits, '-' and '.', no port or scheme)", echo(s))
	})
}

func validHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(s, ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

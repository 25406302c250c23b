package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Bounds of SERVER_MAX_HEADER_BYTES: below 1 KiB a browser's or a proxy's
// ordinary headers no longer fit; net/http's own default is 1 MiB.
const (
	minHeaderBytes = 1 << 10
	maxHeaderBytes = 1 << 20
)

// writeTimeoutMargin is what the derived SERVER_WRITE_TIMEOUT adds to the
// longest wait of a request in the core, for the answer itself.
const writeTimeoutMargin = 20 * time.Second

// ManagementAddr is the management listener's address, on
// ManagementAddress or else Address, or "" when MANAGEMENT_PORT is unset.
func (s ServerConfig) ManagementAddr() string {
	if !s.ManagementEnabled {
		return ""
	}
	host := s.ManagementAddress
	if host == "" {
		host = s.Address
	}
	return net.JoinHostPort(host, strconv.Itoa(s.ManagementPort))
}

// longestWait is the longest a request may wait for a token in the core:
// a renewal lock held by a replica that died (JWT_LOCK_TTL), then a token
// request of the slowest client.
func (c Config) longestWait() time.Duration {
	return c.Cache.LockTTL + c.TokenService.MaxTimeout()
}

// ServerWriteTimeout is SERVER_WRITE_TIMEOUT, or when it is unset (0), the
// longest wait of a request for a token plus a margin: 60s with the
// default JWT_LOCK_TTL and JWT_TOKEN_TIMEOUT. A request that waits in the
// core then still gets its answer instead of a cut connection.
func (c Config) ServerWriteTimeout() time.Duration {
	if c.Server.WriteTimeout > 0 {
		return c.Server.WriteTimeout
	}
	return c.longestWait() + writeTimeoutMargin
}

// serverProblems are the combinations of server keys that cannot work.
func (c Config) serverProblems() []error {
	var errs []error
	s := c.Server
	if w := s.WriteTimeout; w > 0 && w <= c.longestWait() {
		errs = append(errs, fieldError("SERVER_WRITE_TIMEOUT", fmt.Sprintf(
			"%s must be longer than %s plus the longest token request timeout (%s together), or a request waiting for a token would lose its answer",
			w, ref("JWT_LOCK_TTL"), c.longestWait())))
	}
	if s.ManagementEnabled && s.ManagementPort != 0 && s.ManagementPort == s.Port {
		errs = append(errs, fieldError("MANAGEMENT_PORT", fmt.Sprintf(
			"%d is %s too; leave it unset to serve everything on one port", s.ManagementPort, ref("SERVER_PORT"))))
	}
	if !s.ManagementEnabled {
		// Settings of a listener that does not exist: probably a forgotten
		// MANAGEMENT_PORT, and probes pointed at a port nobody serves.
		if s.ManagementAddress != "" {
			errs = append(errs, fieldError("MANAGEMENT_ADDRESS", "has no effect without MANAGEMENT_PORT: set it too, or unset this"))
		}
		if s.ManagementMaxConnections != 0 {
			errs = append(errs, fieldError("MANAGEMENT_MAX_CONNECTIONS", "has no effect without MANAGEMENT_PORT: set it too, or unset this"))
		}
	}
	return errs
}

// optionalPortValue is a port whose absence means "off": set("") turns it
// off, any other value turns it on, 0 picking a free port.
func optionalPortValue(port func(*Config) *int, enabled func(*Config) *bool) binding {
	return binding{
		set: func(c *Config, raw string) string {
			*port(c), *enabled(c) = 0, false
			if raw == "" {
				return ""
			}
			n, err := strconv.Atoi(strings.TrimSpace(raw))
			if err != nil {
				return fmt.Sprintf("%s is not an integer", echo(raw))
			}
			*port(c), *enabled(c) = n, true
			return ""
		},
		check: func(c *Config) string {
			if !*enabled(c) {
				return ""
			}
			return intRange(0, 65535)(*port(c))
		},
	}
}

// byteSizeValue is a size in bytes, written as Spring's DataSize is: a
// bare number of bytes (65536), or a number with B, KB or MB (64KB), where
// a KB is 1024 bytes.
func byteSizeValue(field func(*Config) *int, lo, hi int) binding {
	return binding{
		set: func(c *Config, raw string) string {
			if raw == "" {
				*field(c) = 0
				return ""
			}
			n, ok := parseByteSize(raw)
			if !ok {
				return fmt.Sprintf("%s is not a size (want bytes like 65536, or 64KB or 1MB)", echo(raw))
			}
			*field(c) = n
			return ""
		},
		check: func(c *Config) string {
			if n := *field(c); n < lo || n > hi {
				return fmt.Sprintf("%d bytes is out of range %d..%d", n, lo, hi)
			}
			return ""
		},
	}
}

func parseByteSize(raw string) (int, bool) {
	s := strings.ToUpper(strings.TrimSpace(raw))
	unit := 1
	for _, u := range []struct {
		suffix string
		n      int
	}{{"KB", 1 << 10}, {"MB", 1 << 20}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = strings.TrimSpace(rest), u.n
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > maxHeaderBytes*1024/unit {
		return 0, false
	}
	return n * unit, true
}

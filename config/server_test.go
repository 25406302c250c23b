package config

import (
	"strings"
	"testing"
	"time"
)

func TestServerLimits(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{Environ: []string{
		"SERVER_READ_TIMEOUT=5000", // Spring's keys: a bare number is milliseconds
		"SERVER_WRITE_TIMEOUT=90s",
		"SERVER_IDLE_TIMEOUT=PT1M",
		"SERVER_MAX_HEADER_BYTES=16KB",
		"SERVER_MAX_CONNECTIONS=100",
	}})
	s := c.Server
	eq(t, s.ReadTimeout, 5*time.Second)
	eq(t, s.WriteTimeout, 90*time.Second)
	eq(t, c.ServerWriteTimeout(), 90*time.Second)
	eq(t, s.IdleTimeout, time.Minute)
	eq(t, s.MaxHeaderBytes, 16<<10)
	eq(t, s.MaxConnections, 100)

	for raw, want := range map[string]int{"65536": 65536, "1024B": 1024, "1mb": 1 << 20, " 64 KB ": 64 << 10} {
		c := mustLoad(t, LoadOptions{Environ: []string{"SERVER_MAX_HEADER_BYTES=" + raw}})
		eq(t, c.Server.MaxHeaderBytes, want)
	}
}

// TestServerWriteTimeoutDerived: unset, the write timeout outlasts the
// longest wait for a token, whatever JWT_LOCK_TTL and the token timeouts.
func TestServerWriteTimeoutDerived(t *testing.T) {
	t.Parallel()
	eq(t, Default().ServerWriteTimeout(), 60*time.Second)
	eq(t, mustLoad(t, LoadOptions{}).ServerWriteTimeout(), 60*time.Second)
	c := mustLoad(t, LoadOptions{Environ: []string{"JWT_LOCK_TTL=120", "JWT_TOKEN_TIMEOUT=60"}})
	eq(t, c.ServerWriteTimeout(), 200*time.Second)
	c = mustLoad(t, LoadOptions{Environ: []string{"SERVER_WRITE_TIMEOUT=0"}})
	eq(t, c.ServerWriteTimeout(), 60*time.Second)
}

func TestManagementPort(t *testing.T) {
	t.Parallel()
	eq(t, mustLoad(t, LoadOptions{}).Server.ManagementAddr(), "")
	eq(t, Default().Server.ManagementAddr(), "")
	eq(t, mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=9090"}}).Server.ManagementAddr(), ":9090")
	eq(t, mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=0", "SERVER_ADDRESS=127.0.0.1"}}).Server.ManagementAddr(), "127.0.0.1:0")
	// SERVER_PORT=0 and MANAGEMENT_PORT=0 are two free ports, not one.
	eq(t, mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=0", "SERVER_PORT=0"}}).Server.ManagementAddr(), ":0")

	// The Spring names in YAML.
	path := writeYAML(t, "management:\n  server:\n    port: 9091\nserver:\n  max-http-request-header-size: 8KB\n  max-connections: 50\n")
	c := mustLoad(t, LoadOptions{File: path})
	eq(t, c.Server.ManagementAddr(), ":9091")
	eq(t, c.Server.MaxHeaderBytes, 8<<10)
	eq(t, c.Server.MaxConnections, 50)
	if len(c.Origin.UnknownKeys) != 0 {
		t.Errorf("unknown keys %v", c.Origin.UnknownKeys)
	}
}

// TestManagementAddressAndConnections: MANAGEMENT_ADDRESS moves the
// management listener off SERVER_ADDRESS, MANAGEMENT_MAX_CONNECTIONS sets
// its cap, and neither means anything without MANAGEMENT_PORT.
func TestManagementAddressAndConnections(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=9090", "SERVER_ADDRESS=10.0.0.7", "MANAGEMENT_ADDRESS=127.0.0.1", "MANAGEMENT_MAX_CONNECTIONS=32"}})
	eq(t, c.Server.Addr(), "10.0.0.7:8080")
	eq(t, c.Server.ManagementAddr(), "127.0.0.1:9090")
	eq(t, c.Server.ManagementMaxConnections, 32)
	c = mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=9090", "SERVER_ADDRESS=10.0.0.7"}})
	eq(t, c.Server.ManagementAddr(), "10.0.0.7:9090") // the default: SERVER_ADDRESS
	eq(t, c.Server.ManagementMaxConnections, 0)       // the REST adapter's default
	c = mustLoad(t, LoadOptions{Environ: []string{"MANAGEMENT_PORT=9090", "MANAGEMENT_ADDRESS=::1"}})
	eq(t, c.Server.ManagementAddr(), "[::1]:9090")

	path := writeYAML(t, "management:\n  server:\n    port: 9091\n    address: 127.0.0.1\n    max-connections: 16\n")
	c = mustLoad(t, LoadOptions{File: path})
	eq(t, c.Server.ManagementAddr(), "127.0.0.1:9091")
	eq(t, c.Server.ManagementMaxConnections, 16)
	if len(c.Origin.UnknownKeys) != 0 {
		t.Errorf("unknown keys %v", c.Origin.UnknownKeys)
	}

	for _, tt := range []struct{ port, env, want string }{
		{"", "MANAGEMENT_ADDRESS=127.0.0.1", "MANAGEMENT_ADDRESS (management.server.address): has no effect without MANAGEMENT_PORT"},
		{"", "MANAGEMENT_MAX_CONNECTIONS=10", "MANAGEMENT_MAX_CONNECTIONS (management.server.max-connections): has no effect without MANAGEMENT_PORT"},
		{"9090", "MANAGEMENT_MAX_CONNECTIONS=-1", "-1 must be at least 0"},
		{"9090", "MANAGEMENT_ADDRESS=not a host", `MANAGEMENT_ADDRESS (management.server.address): "not a host" is not a host name`},
	} {
		_, err := Load(LoadOptions{Environ: []string{tt.env, "MANAGEMENT_PORT=" + tt.port}})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.env, err, tt.want)
		}
	}
}

package config

import (
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

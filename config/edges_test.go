package config

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/internal/rlimit"
)

// TestLoadEdgeValues: the smallest values the floors allow load.
func TestLoadEdgeValues(t *testing.T) {
	t.Parallel()
	for _, kv := range []string{
		"JWT_TOKEN_RATE=0", "JWT_TOKEN_RATE=0.001", "JWT_TOKEN_RATE=1e9",
		"JWT_HEALTH_CHECK_INTERVAL=1", "JWT_HEALTH_CHECK_INTERVAL=1s",
		"REDIS_TLS_SERVER_NAME=redis.test", "REDIS_TLS_SERVER_NAME=redis.test.", "REDIS_TLS_SERVER_NAME=10.0.0.7",
		"REDIS_TLS_SERVER_NAME=::1", "REDIS_TLS_SERVER_NAME=a-1.b2." + strings.Repeat("c", 63),
	} {
		if _, err := Load(LoadOptions{Environ: append(slices.Clone(baseEnv), kv)}); err != nil {
			t.Errorf("%s: %v", kv, err)
		}
	}
	if MinHealthCheckInterval != time.Second {
		t.Errorf("MinHealthCheckInterval = %v, want 1s", MinHealthCheckInterval)
	}
}

// TestMaxConnectionsWarning: a SERVER_MAX_CONNECTIONS that leaves fewer
// than ConnectionFDReserve of the process's file descriptors for
// everything else is warned about at start-up.
func TestMaxConnectionsWarning(t *testing.T) {
	t.Parallel()
	const nofile = 1024
	for _, tc := range []struct {
		name  string
		conns int
		limit uint64
		known bool
		warn  bool
	}{
		{"default (0)", 0, nofile, true, false},
		{"leaves exactly the reserve", nofile - ConnectionFDReserve, nofile, true, false},
		{"leaves one less", nofile - ConnectionFDReserve + 1, nofile, true, true},
		{"above the limit", 4 * nofile, nofile, true, true},
		{"a limit below the reserve", 1, ConnectionFDReserve - 1, true, true},
		{"no limit known", 1 << 30, 0, false, false},
		{"unlimited", 1 << 30, ^uint64(0), true, false},
	} {
		w, ok := maxConnectionsWarning(tc.conns, tc.limit, tc.known)
		if ok != tc.warn {
			t.Errorf("%s: warning %v, want %v", tc.name, ok, tc.warn)
			continue
		}
		if ok && (w.Env != "SERVER_MAX_CONNECTIONS" || !strings.Contains(w.Message, "ulimit -n")) {
			t.Errorf("%s: warning %+v, want one about SERVER_MAX_CONNECTIONS and ulimit -n", tc.name, w)
		}
	}
}

// TestLoadWarnsOfMaxConnectionsBeyondTheOpenFileLimit: Load compares
// SERVER_MAX_CONNECTIONS with this process's own limit.
func TestLoadWarnsOfMaxConnectionsBeyondTheOpenFileLimit(t *testing.T) {
	t.Parallel()
	limit, ok := rlimit.OpenFiles()
	if !ok || limit >= 1<<31 {
		t.Skip("no finite open-file limit in this process")
	}
	c, err := Load(LoadOptions{Environ: append(slices.Clone(baseEnv), "SERVER_MAX_CONNECTIONS=2147483647")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(c.Origin.Warnings, func(w Warning) bool { return w.Env == "SERVER_MAX_CONNECTIONS" }) {
		t.Errorf("no warning about SERVER_MAX_CONNECTIONS with an open-file limit of %d: %+v", limit, c.Origin.Warnings)
	}
	c, err = Load(LoadOptions{Environ: append(slices.Clone(baseEnv), "SERVER_MAX_CONNECTIONS=1")})
	if err != nil {
		t.Fatal(err)
	}
	if slices.ContainsFunc(c.Origin.Warnings, func(w Warning) bool { return w.Env == "SERVER_MAX_CONNECTIONS" }) && limit > ConnectionFDReserve {
		t.Errorf("a warning about SERVER_MAX_CONNECTIONS=1: %+v", c.Origin.Warnings)
	}
}

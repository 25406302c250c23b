package config

import (
	"strings"
	"testing"
	"time"
)

// TestShutdownTimeoutDerived: unset, the stop outlasts the longest wait of
// a request for a token and keeps the close reserve after it, whatever
// JWT_LOCK_TTL, the token timeouts and REDIS_TIMEOUT.
func TestShutdownTimeoutDerived(t *testing.T) {
	t.Parallel()
	eq(t, Default().ShutdownCloseReserve(), 7*time.Second)
	eq(t, Default().ShutdownTimeout(), 50*time.Second)
	c := mustLoad(t, LoadOptions{})
	eq(t, c.ShutdownTimeout(), 50*time.Second)
	eq(t, c.ShutdownTimeout()-c.ShutdownCloseReserve(), c.longestWait()+shutdownDrainMargin)

	c = mustLoad(t, LoadOptions{Environ: []string{"JWT_LOCK_TTL=120", "JWT_TOKEN_TIMEOUT=60", "REDIS_TIMEOUT=5s"}})
	eq(t, c.ShutdownCloseReserve(), 10*time.Second)
	eq(t, c.ShutdownTimeout(), 180*time.Second+shutdownDrainMargin+10*time.Second)
	// A per-service client's longer timeout counts too.
	path := writeYAML(t, "jwt:\n  services:\n    slow:\n      timeout: 25s\n")
	c = mustLoad(t, LoadOptions{File: path})
	eq(t, c.ShutdownTimeout(), 30*time.Second+25*time.Second+shutdownDrainMargin+7*time.Second)
}

func TestShutdownTimeoutSet(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]time.Duration{"20s": 20 * time.Second, "90000": 90 * time.Second, "PT2M": 2 * time.Minute, "0": 50 * time.Second} {
		c := mustLoad(t, LoadOptions{Environ: []string{"SERVER_SHUTDOWN_TIMEOUT=" + raw}})
		eq(t, c.ShutdownTimeout(), want)
	}
	path := writeYAML(t, "spring:\n  lifecycle:\n    timeout-per-shutdown-phase: 45s\n")
	c := mustLoad(t, LoadOptions{File: path})
	eq(t, c.ShutdownTimeout(), 45*time.Second)

	// Too short to keep the close reserve: the renewal locks would be left
	// to expire.
	_, err := Load(LoadOptions{Environ: []string{"SERVER_SHUTDOWN_TIMEOUT=7s"}})
	if err == nil || !strings.Contains(err.Error(), "SERVER_SHUTDOWN_TIMEOUT (spring.lifecycle.timeout-per-shutdown-phase): 7s must be longer than REDIS_TIMEOUT (spring.data.redis.timeout) + 5s (7s)") {
		t.Errorf("a 7s shutdown: %v", err)
	}
	if _, err := Load(LoadOptions{Environ: []string{"SERVER_SHUTDOWN_TIMEOUT=3s", "REDIS_TIMEOUT=500ms"}}); err == nil || !strings.Contains(err.Error(), "(5.5s)") {
		t.Errorf("a 3s shutdown with a 500ms REDIS_TIMEOUT: %v", err)
	}
	mustLoad(t, LoadOptions{Environ: []string{"SERVER_SHUTDOWN_TIMEOUT=6s", "REDIS_TIMEOUT=500ms"}})
}

package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest"
)

// TestBinaryManagementPortSurvivesStalledClients: on the management port,
// a client that drips its headers is cut within the read-header timeout,
// and more clients holding half-sent headers than MANAGEMENT_MAX_CONNECTIONS
// allows (the reviewer's 70 against the old fixed cap of 64) do not keep
// the probes out: each one answers within a kubelet's probe timeout.
func TestBinaryManagementPortSurvivesStalledClients(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const maxConns, stalled = 64, 70
	ts := startGatedTokenService(t)
	p, _ := serve(t, opsEnv(ts, "MANAGEMENT_PORT=0", "MANAGEMENT_MAX_CONNECTIONS=64"))
	mgmt := "http://127.0.0.1:" + p.waitFor(managementRE)

	drip := dialRaw(t, mgmt)
	start := time.Now()
	if _, err := io.WriteString(drip, "GET /livez HTTP/1.1\r\nHost: jwtcache\r\n"); err != nil {
		t.Fatal(err)
	}
	go drip.drip('x', 50*time.Millisecond)
	if _, closed := drip.closedBy(start.Add(rest.ManagementReadHeaderTimeout + time.Second)); !closed {
		t.Fatalf("a client dripping its headers is still connected after %s", time.Since(start))
	}

	for range stalled {
		c := dialRaw(t, mgmt)
		if _, err := io.WriteString(c, "GET /livez HTTP/1.1\r\nHost: jwtcache\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	for _, path := range []string{"/livez", "/readyz", "/api/v1/jwt/health"} {
		c := dialRaw(t, mgmt)
		resp, body, err := c.get(path, time.Second)
		if err != nil || resp.StatusCode != 200 || !strings.Contains(body, `"status"`) {
			t.Errorf("%s with %d stalled clients on a cap of %d: %v %v", path, stalled, maxConns, resp, err)
		}
	}
}

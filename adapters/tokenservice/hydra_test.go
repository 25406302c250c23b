package tokenservice_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
)

// hydraStartTimeout bounds how long Ory Hydra may take to answer its
// readiness probe.
const hydraStartTimeout = 60 * time.Second

// TestAgainstOryHydra runs a real token service, Ory Hydra in its
// in-memory development mode, and gets a client-credentials token through
// discovery, then rotates the client's secret at Hydra and in the secret
// file and gets the next token without an error. Hydra is not a module
// dependency: the test needs a `hydra` binary built with SQLite support on
// PATH (see the README) and says so when there is none.
func TestAgainstOryHydra(t *testing.T) {
	bin, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra is not on PATH; build it with SQLite support (see README, \"Testing against Ory Hydra\") to run this test")
	}
	public, admin := freeLoopbackPort(t), freeLoopbackPort(t)
	issuerURL := "http://127.0.0.1:" + public
	adminURL := "http://127.0.0.1:" + admin
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "serve", "all", "--dev", "--sqa-opt-out")
	cmd.Env = append(os.Environ(), "DSN=memory", "LOG_LEVEL=warn",
		"SERVE_PUBLIC_HOST=127.0.0.1", "SERVE_PUBLIC_PORT="+public,
		"SERVE_ADMIN_HOST=127.0.0.1", "SERVE_ADMIN_PORT="+admin,
		"URLS_SELF_ISSUER="+issuerURL, "SECRETS_SYSTEM=jwtcache-test-system-secret-0123456789",
		"STRATEGIES_ACCESS_TOKEN=jwt")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("hydra's output:\n%s", logs)
		}
	})
	waitReady(t, adminURL+"/health/ready")

	clientJSON := hydraCLI(t, bin, "create", "client", "--endpoint", adminURL, "--grant-type", "client_credentials",
		"--secret", "hydra-secret-one-0123456789", "--format", "json")
	var client struct {
		ID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(clientJSON), &client); err != nil || client.ID == "" {
		t.Fatalf("hydra create client: %v\n%s", err, clientJSON)
	}
	secretFile := filepath.Join(t.TempDir(), "client-secret")
	writeFile(t, secretFile, "hydra-secret-one-0123456789\n")

	iss, err := tokenservice.New(tokenservice.Options{IssuerURL: issuerURL, ClientID: client.ID, ClientSecretFile: secretFile})
	if err != nil {
		t.Fatal(err)
	}
	defer iss.Close()
	tok, err := iss.Issue(context.Background(), service)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(tok.AccessToken, ".") != 2 || time.Until(tok.ExpiresAt) < time.Minute {
		t.Fatalf("token %v: want a JWT living for a while", tok)
	}

	// Rotate: Hydra and the file change together; the issuer has not
	// looked at the file since, so its first request is refused.
	hydraCLI(t, bin, "update", "client", client.ID, "--endpoint", adminURL, "--grant-type", "client_credentials",
		"--secret", "hydra-secret-two-0123456789", "--format", "json")
	writeFile(t, secretFile, "hydra-secret-two-0123456789\n")
	if _, err := iss.Issue(context.Background(), service); err != nil {
		t.Fatalf("right after the rotation: %v", err)
	}
	if err := iss.DiscoveryHealth(); err != nil {
		t.Errorf("DiscoveryHealth = %v", err)
	}
}

func freeLoopbackPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func hydraCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("hydra %s: %v\n%s", strings.Join(args[:2], " "), err, out)
	}
	return string(out)
}

// waitReady polls url until it answers 200, for hydraStartTimeout at most.
func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(hydraStartTimeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after %s: %v", url, hydraStartTimeout, err)
		}
		<-tick.C
	}
}

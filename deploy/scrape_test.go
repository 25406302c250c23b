package deploy

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/config"
)

const scrapeAPIKey = "scrape-test-key-0123456789"

// liveScrape wires the cache, its metrics and the REST API as the server
// does (cmd/jwtcache's options), against the development token service,
// drives a few requests through the API, and returns a GET /metrics body.
func liveScrape(t *testing.T) []byte {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	iss, err := devissuer.New(devissuer.Options{ClientID: "scrape", ClientSecret: "scrape-secret", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(iss.Handler())
	t.Cleanup(ts.Close)
	cfg, err := config.Load(config.LoadOptions{Environ: []string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL + devissuer.TokenPath,
		"JWT_CLIENT_ID=scrape", "JWT_CLIENT_SECRET=scrape-secret",
		"JWT_API_KEYS=" + scrapeAPIKey,
	}})
	if err != nil {
		t.Fatal(err)
	}

	m := metrics.New(metrics.Options{Logger: quiet, Version: "v0.0.0-test"})
	cache, err := embedded.New(cfg, embedded.Options{Logger: quiet, Instrument: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })
	auth, err := rest.NewAuth(rest.AuthOptions{Keys: []rest.APIKey{{Key: scrapeAPIKey}}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveCache(cache); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveAuth(auth); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(rest.NewHandler(cache, rest.Options{Logger: quiet, Auth: auth, Metrics: m.Handler()}))
	t.Cleanup(api.Close)

	for _, r := range []struct {
		method, path string
		key          bool
		status       int
	}{
		{"GET", "/token/kyc", true, 200},
		{"GET", "/token/kyc", true, 200},
		{"GET", "/bearer/ledger", true, 200},
		{"POST", "/refresh/kyc", true, 200},
		{"DELETE", "/evict/ledger", true, 200},
		{"GET", "/token/kyc", false, 401},
		{"GET", "/status", false, 200},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), r.method, api.URL+rest.BasePath+r.path, nil)
		if r.key {
			req.Header.Set("X-API-Key", scrapeAPIKey)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != r.status {
			t.Fatalf("%s %s: %d, want %d", r.method, r.path, resp.StatusCode, r.status)
		}
	}
	resp, err := http.Get(api.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	return body
}

// scrapeFamilies parses a scrape in the Prometheus text format.
func scrapeFamilies(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("the scrape does not parse: %v", err)
	}
	if families["jwtcache_token_seconds_until_expiry"] == nil || families["jwtcache_cache_hits_total"] == nil {
		t.Fatalf("the scrape lacks the cache's metrics:\n%s", body)
	}
	return families
}

// TestScrapePassesPromtool: a real scrape passes `promtool check metrics`,
// the Prometheus project's own lint of the exposition.
func TestScrapePassesPromtool(t *testing.T) {
	promtool := tool(t, "promtool", "the /metrics exposition")
	body := liveScrape(t)
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

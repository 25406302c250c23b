package main

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestGuideWalkthrough starts the real binary in its development setup and
// walks the guide's curl examples, checking every field the guide shows.
func TestGuideWalkthrough(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	p, base := serve(t, nil, "--dev")
	api := base + "/api/v1/jwt"
	if !strings.Contains(p.output(), "DEVELOPMENT SETUP") {
		t.Fatal("the development setup is not logged loudly")
	}

	code, tok := call(t, "GET", api+"/token/kyc")
	if code != 200 {
		t.Fatalf("token: %d %v", code, tok)
	}
	for _, f := range []string{"serviceName", "accessToken", "tokenType", "expiresIn", "scope", "issuedAt", "expiresAt",
		"cacheExpiresAt", "secondsUntilExpiry", "secondsUntilCacheExpiry", "needsRenewal", "isRenewing", "timestamp"} {
		if _, ok := tok[f]; !ok {
			t.Errorf("token response lacks %s", f)
		}
	}
	access, _ := tok["accessToken"].(string)
	if tok["serviceName"] != "kyc" || tok["tokenType"] != "Bearer" || tok["expiresIn"] != 3600.0 || strings.Count(access, ".") != 2 {
		t.Fatalf("token response: %v", tok)
	}
	exp, _ := time.Parse(time.RFC3339, tok["expiresAt"].(string))
	cexp, _ := time.Parse(time.RFC3339, tok["cacheExpiresAt"].(string))
	if exp.Sub(cexp) != 20*time.Second || !strings.HasSuffix(tok["expiresAt"].(string), "Z") {
		t.Fatalf("expiresAt %v, cacheExpiresAt %v: want a 20s buffer in UTC", tok["expiresAt"], tok["cacheExpiresAt"])
	}

	code, bearer := call(t, "GET", api+"/bearer/kyc")
	if code != 200 || bearer["bearerToken"] != "Bearer "+access || bearer["serviceName"] != "kyc" {
		t.Fatalf("bearer: %d %v", code, bearer)
	}

	code, st := call(t, "GET", api+"/status/kyc")
	if code != 200 || st["exists"] != true || st["isExpired"] != false || st["isCacheExpired"] != false || st["needsRenewal"] != false {
		t.Fatalf("status: %d %v", code, st)
	}
	if _, ok := st["accessToken"]; ok {
		t.Fatal("status reveals the token")
	}

	code, stats := call(t, "GET", api+"/statistics")
	if code != 200 || stats["totalTokens"] != 1.0 || stats["activeTokens"] != 1.0 || stats["cacheHits"] != 1.0 || stats["cacheMisses"] != 1.0 {
		t.Fatalf("statistics: %d %v", code, stats)
	}
	if _, ok := stats["hitRatio"]; !ok {
		t.Fatal("statistics lacks hitRatio")
	}

	code, ref := call(t, "POST", api+"/refresh/kyc")
	if code != 200 || ref["message"] != "Token refreshed successfully" || ref["accessToken"] == access {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	refreshed := ref["accessToken"].(string)
	if _, tok2 := call(t, "GET", api+"/token/kyc"); tok2["accessToken"] != refreshed {
		t.Fatal("token after refresh is not the refreshed one")
	}

	call(t, "GET", api+"/token/data-processor")
	code, all := call(t, "GET", api+"/status")
	tokens, _ := all["tokens"].(map[string]any)
	if code != 200 || all["totalTokens"] != 2.0 || tokens["kyc"] == nil || tokens["data-processor"] == nil {
		t.Fatalf("all statuses: %d %v", code, all)
	}

	code, health := call(t, "GET", api+"/health")
	if code != 200 || health["healthy"] != true || health["status"] != "UP" {
		t.Fatalf("health: %d %v", code, health)
	}

	code, ev := call(t, "DELETE", api+"/evict/kyc")
	if code != 200 || ev["evicted"] != true {
		t.Fatalf("evict: %d %v", code, ev)
	}
	if code, st := call(t, "GET", api+"/status/kyc"); code != 200 || st["exists"] != false {
		t.Fatalf("status after evict: %d %v", code, st)
	}

	if code, e := call(t, "GET", api+"/token/KYC"); code != 400 || e["error"] != "invalid_service_name" {
		t.Fatalf("invalid name: %d %v", code, e)
	}
	if code, e := call(t, "GET", base+"/api/v1/nope"); code != 404 || e["error"] != "not_found" {
		t.Fatalf("unknown route: %d %v", code, e)
	}

	p.stop()
	if p.cmd.ProcessState.ExitCode() != 0 {
		t.Fatalf("graceful stop exited %d", p.cmd.ProcessState.ExitCode())
	}
	mustContainNone(t, "the log", p.output(), access, refreshed)
}

func TestStartupRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"no token service", nil, "JWT_TOKEN_SERVICE_URL (jwt.token.service.url) is not set"},
		{"bad buffer", []string{"JWT_RENEWAL_BUFFER=soon"}, "JWT_RENEWAL_BUFFER (jwt.token.cache.renewal.buffer)"},
		{"url without client", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token"}, "JWT_CLIENT_ID"},
		{"bad secret is not echoed", []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/token", "JWT_CLIENT_ID=x", "JWT_CLIENT_SECRET=s3cr3t-value", "REDIS_PORT=99999"}, "REDIS_PORT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := start(t, tc.env, "serve")
			if code := p.exitCode(); code != 2 {
				t.Fatalf("exit code %d, want 2", code)
			}
			if !strings.Contains(p.output(), tc.want) {
				t.Fatalf("output does not name %q:\n%s", tc.want, p.output())
			}
			mustContainNone(t, "the refusal", p.output(), "s3cr3t-value")
		})
	}
}

// TestServeAgainstSeparateDevIssuer runs the development token service as
// its own process, as `jwtcache dev-issuer`, and a jwtcache configured for
// it like for any token service.
func TestServeAgainstSeparateDevIssuer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const secret = "dev+secret/with=odd&chars%:"
	iss := start(t, []string{"DEV_ISSUER_CLIENT_SECRET=" + secret}, "dev-issuer", "--addr", "127.0.0.1:0", "--client-id", "svc-client")
	url := iss.waitFor(regexp.MustCompile(`JWT_TOKEN_SERVICE_URL=(\S+)`))
	p, base := serve(t, []string{
		"JWT_TOKEN_SERVICE_URL=" + url, "JWT_CLIENT_ID=svc-client", "JWT_CLIENT_SECRET=" + secret,
		"JWT_TOKEN_SCOPE=api.read api.write",
	})
	code, tok := call(t, "GET", base+"/api/v1/jwt/token/kyc")
	if code != 200 || tok["scope"] != "api.read api.write" {
		t.Fatalf("token: %d %v", code, tok)
	}
	if strings.Contains(p.output(), "DEVELOPMENT SETUP") {
		t.Fatal("a configured token service was reported as the development setup")
	}
	iss.stop()
	// The token service is gone, but the cached token is still served.
	if code, again := call(t, "GET", base+"/api/v1/jwt/token/kyc"); code != 200 || again["accessToken"] != tok["accessToken"] {
		t.Fatalf("cached token not served with the token service down: %d %v", code, again)
	}
	if code, e := call(t, "GET", base+"/api/v1/jwt/token/data-processor"); code != 503 || e["error"] != "token_service_unavailable" {
		t.Fatalf("uncached service with the token service down: %d %v", code, e)
	}
	if code, h := call(t, "GET", base+"/api/v1/jwt/health"); code != 200 || h["status"] != "DEGRADED" {
		t.Fatalf("health with the token service down but a valid token cached: %d %v", code, h)
	}
	mustContainNone(t, "the logs", p.output()+iss.output(), secret, tok["accessToken"].(string))
}

// TestAPIKeys: with keys configured, the token endpoints need one; a key
// limited to a service gets 403 elsewhere; monitoring stays open; without
// keys the start-up log warns that the API is open.
func TestAPIKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const all, kycOnly = "k3y-for-everything-0123456789", "k3y-for-kyc-only-0123456789"
	p, base := serve(t, []string{"JWT_API_KEYS=" + all + "," + kycOnly + "@kyc"}, "--dev")
	api := base + "/api/v1/jwt"
	withKey := func(method, url, key string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, url, nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if code, e := withKey("GET", api+"/token/kyc", ""); code != 401 || e["error"] != "unauthorized" {
		t.Fatalf("no key: %d %v", code, e)
	}
	if code, e := withKey("GET", api+"/token/kyc", "wrong-key-0123456789"); code != 401 {
		t.Fatalf("wrong key: %d %v", code, e)
	}
	if code, tok := withKey("GET", api+"/token/kyc", kycOnly); code != 200 || tok["accessToken"] == nil {
		t.Fatalf("kyc key on kyc: %d %v", code, tok)
	}
	if code, e := withKey("GET", api+"/token/data-processor", kycOnly); code != 403 || e["error"] != "forbidden" {
		t.Fatalf("kyc key on data-processor: %d %v", code, e)
	}
	if code, _ := withKey("POST", api+"/refresh/data-processor", all); code != 200 {
		t.Fatalf("full key on refresh: %d", code)
	}
	if code, _ := call(t, "GET", api+"/statistics"); code != 200 {
		t.Fatalf("statistics without a key: %d", code)
	}
	if code, _ := call(t, "GET", api+"/health"); code != 200 {
		t.Fatalf("health without a key: %d", code)
	}
	mustContainNone(t, "the log", p.output(), all, kycOnly)

	open, _ := serve(t, nil, "--dev")
	if !strings.Contains(open.output(), "no API key configured") {
		t.Fatalf("no warning that the API is open:\n%s", open.output())
	}
}

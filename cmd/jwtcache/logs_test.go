package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jwtcache/jwtcache/adapters/rest"
)

var servingJSONRE = regexp.MustCompile(`"msg":"jwtcache serving","addr":"[^"]*:(\d+)"`)

// TestJSONLogsHoldNoSecrets runs the whole API against the real binary
// with LOG_LEVEL=debug and LOG_FORMAT=json, on Redis when one answers:
// every line it writes must be a JSON object, and none may hold an access
// token it handed out, the client secret (in any encoding it is sent in),
// another client's secret, or the API key.
func TestJSONLogsHoldNoSecrets(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const (
		apiKey      = "logs-api-key-0123456789"
		wrongSecret = "wrong+secret/for=broken&x%"
	)
	ts := startGatedTokenService(t)
	redisEnv, _, _ := sharedRedisEnv(t)
	// A per-service client with the wrong secret: its token requests are
	// refused (invalid_client), so the failure paths log too.
	cfgFile := filepath.Join(t.TempDir(), "jwtcache.yaml")
	if err := os.WriteFile(cfgFile, []byte("jwt:\n  services:\n    broken:\n      client-secret: ${BROKEN_SECRET}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := opsEnv(ts, append(redisEnv,
		"LOG_LEVEL=debug", "LOG_FORMAT=json", "JWT_API_KEYS="+apiKey,
		"JWT_CONFIG_FILE="+cfgFile, "BROKEN_SECRET="+wrongSecret,
		"SERVER_PORT=0", "SERVER_ADDRESS=127.0.0.1")...)
	p := start(t, env, "serve")
	base := "http://127.0.0.1:" + p.waitFor(servingJSONRE)
	doc := servedDoc(t, base)
	api := rest.BasePath
	key := []string{"X-API-Key", apiKey}

	var answers []response
	call := func(method, path string, want int, headers ...string) response {
		t.Helper()
		r := fetch(t, method, base, path, headers...)
		if r.status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.status, r.body, want)
		}
		checkDoc(t, doc, r)
		answers = append(answers, r)
		return r
	}
	call("GET", api+"/token/kyc", 200, key...)
	call("GET", api+"/token/kyc", 200, "Authorization", "Bearer "+apiKey)
	call("GET", api+"/bearer/kyc", 200, key...)
	call("POST", api+"/refresh/kyc", 200, key...)
	call("GET", api+"/token/data-processor", 200, key...)
	call("GET", api+"/status/kyc", 200)
	call("GET", api+"/status", 200)
	call("GET", api+"/statistics", 200)
	call("GET", api+"/health", 200)
	call("DELETE", api+"/evict/kyc", 200, key...)
	call("DELETE", api+"/evict/kyc", 200, key...)
	call("GET", api+"/status/kyc", 200)
	call("GET", api+"/token/kyc", 200, key...)
	call("GET", api+"/token/kyc", 401)
	call("GET", api+"/token/kyc", 401, "X-API-Key", "not-"+apiKey)
	call("GET", api+"/token/KYC", 400, key...)
	if r := call("GET", api+"/token/broken", 502, key...); !strings.Contains(string(r.body), `"tokenServiceError":"invalid_client"`) {
		t.Fatalf("the wrong secret was not refused as invalid_client: %s", r.body)
	}
	call("GET", api+"/token/broken", 502, key...) // from the negative cache
	call("GET", "/livez", 200)
	call("GET", "/readyz", 200)
	call("GET", "/metrics", 200)

	var secrets []string
	tokenRE := regexp.MustCompile(`"(?:accessToken|bearerToken)":"(?:Bearer )?([^"]+)"`)
	for _, r := range answers {
		for _, m := range tokenRE.FindAllStringSubmatch(string(r.body), -1) {
			secrets = append(secrets, m[1])
		}
	}
	if len(secrets) != 6 {
		t.Fatalf("%d tokens handed out, want 6", len(secrets))
	}
	for _, s := range []string{opsSecret, wrongSecret} {
		secrets = append(secrets, s, url.QueryEscape(s), url.PathEscape(s),
			base64.StdEncoding.EncodeToString([]byte(opsClientID+":"+s)),
			base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(opsClientID)+":"+url.QueryEscape(s))))
	}
	secrets = append(secrets, apiKey)
	for _, r := range answers {
		// Answers carry tokens by design, but never a secret or the key.
		mustContainNone(t, r.method+" "+r.path+" answer", string(r.body), secrets[len(secrets)-11:]...)
	}

	p.stop()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	out := p.output()
	levels := map[string]int{}
	var msgs []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %d is not a JSON object: %v: %q", n, err, line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("log line %d has no %q: %s", n, k, line)
			}
		}
		levels[rec["level"].(string)]++
		msgs = append(msgs, rec["msg"].(string))
		for _, s := range secrets {
			if strings.Contains(line, s) {
				t.Fatalf("log line %d holds a token or secret (%d chars): level %v, msg %q", n, len(s), rec["level"], rec["msg"])
			}
		}
	}
	// The flow must have exercised the logs worth checking: debug request
	// lines, the refused token request, the refused API keys.
	for _, want := range []string{"rest: request", "token service call failed", "rest: request refused", "jwtcache serving", "shutting down"} {
		if !slices.Contains(msgs, want) {
			t.Errorf("no %q line among the %d log lines", want, n)
		}
	}
	if redisEnv != nil && !strings.Contains(out, `"cache":"redis"`) {
		t.Error("the binary did not run on Redis")
	}
	if levels["DEBUG"] == 0 || levels["WARN"] == 0 {
		t.Errorf("levels seen %v: want DEBUG and WARN lines", levels)
	}
	t.Logf("%d JSON log lines checked (%v) against %d tokens and secrets", n, levels, len(secrets))
}

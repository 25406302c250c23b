package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/adapters/rest"
	"github.com/jwtcache/jwtcache/adapters/rest/openapitest"
)

// gatedTokenService is a development token service whose token requests
// can be held until the test releases them.
type gatedTokenService struct {
	*devissuer.Server
	URL string
	// arrived receives one value per token request, before it is held.
	arrived chan struct{}

	mu   sync.Mutex
	gate chan struct{} // nil: requests pass; else they wait for it to close
}

const (
	opsClientID = "ops-client"
	opsSecret   = "ops+secret/with=odd&chars%:!"
)

func startGatedTokenService(t *testing.T) *gatedTokenService {
	t.Helper()
	srv, err := devissuer.New(devissuer.Options{ClientID: opsClientID, ClientSecret: opsSecret})
	if err != nil {
		t.Fatal(err)
	}
	g := &gatedTokenService{Server: srv, arrived: make(chan struct{}, 100)}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == devissuer.TokenPath {
			g.arrived <- struct{}{}
			g.mu.Lock()
			gate := g.gate
			g.mu.Unlock()
			if gate != nil {
				select {
				case <-gate:
				case <-r.Context().Done():
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		g.open()
		hs.CloseClientConnections()
		hs.Close()
	})
	g.URL = hs.URL + devissuer.TokenPath
	return g
}

// hold makes token requests wait until open.
func (g *gatedTokenService) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate == nil {
		g.gate = make(chan struct{})
	}
}

func (g *gatedTokenService) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
}

func opsEnv(ts *gatedTokenService, extra ...string) []string {
	return append([]string{"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + opsClientID, "JWT_CLIENT_SECRET=" + opsSecret}, extra...)
}

// sharedRedisEnv returns the environment selecting the shared Redis under
// a fresh prefix, and a client on it; or nil when no Redis answers (and
// none is required), for the tests that also work on the memory store.
func sharedRedisEnv(t *testing.T) ([]string, *redis.Client, string) {
	t.Helper()
	if !redistest.SharedUp() {
		if redistest.Required() {
			t.Fatalf("no Redis at %s, and JWTCACHE_REQUIRE_REDIS=1", redistest.SharedAddr)
		}
		t.Logf("no Redis at %s: using the memory store", redistest.SharedAddr)
		return nil, nil, ""
	}
	prefix := redistest.Prefix()
	rc := redis.NewClient(&redis.Options{Addr: redistest.SharedAddr})
	t.Cleanup(func() {
		keys, _ := rc.Keys(context.Background(), prefix+"*").Result()
		if len(keys) > 0 {
			rc.Del(context.Background(), keys...)
		}
		rc.Close()
	})
	host, port, _ := net.SplitHostPort(redistest.SharedAddr)
	return []string{"CACHE_TYPE=redis", "REDIS_HOST=" + host, "REDIS_PORT=" + port, "REDIS_KEY_PREFIX=" + prefix}, rc, prefix
}

// response is one HTTP answer, kept whole for the document check.
type response struct {
	method, path string
	status       int
	contentType  string
	body         []byte
}

// fetch makes one request on base with optional header pairs.
func fetch(t *testing.T, method, base, path string, headers ...string) response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return response{method: method, path: path, status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), body: body}
}

// servedDoc is the OpenAPI document the process at base serves.
func servedDoc(t *testing.T, base string) *openapitest.Doc {
	t.Helper()
	r := fetch(t, "GET", base, rest.BasePath+rest.OpenAPIPath)
	if r.status != 200 {
		t.Fatalf("GET openapi.json: %d", r.status)
	}
	doc, err := openapitest.Load(r.body)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func checkDoc(t *testing.T, doc *openapitest.Doc, r response) {
	t.Helper()
	if err := doc.CheckResponse(r.method, r.path, r.status, r.contentType, r.body); err != nil {
		t.Errorf("answer not as documented: %v\nbody: %s", err, r.body)
	}
}

// TestBinaryMetricsProbesAndOpenAPI: the real binary serves /metrics
// (behind a key when status is protected), /livez, /readyz and its
// OpenAPI document, and every answer matches the document.
func TestBinaryMetricsProbesAndOpenAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	const key = "ops-api-key-0123456789"
	ts := startGatedTokenService(t)
	p, base := serve(t, opsEnv(ts, "JWT_API_KEYS="+key, "JWT_API_PROTECT_STATUS=true"))
	doc := servedDoc(t, base)
	api := rest.BasePath
	withKey := []string{"X-API-Key", key}

	var tokens []string
	for _, r := range []response{
		fetch(t, "GET", base, api+"/token/kyc", withKey...),
		fetch(t, "GET", base, api+"/token/kyc", withKey...),
		fetch(t, "GET", base, api+"/token/kyc"), // 401
		fetch(t, "GET", base, api+"/status", withKey...),
		fetch(t, "GET", base, "/livez"),
		fetch(t, "GET", base, "/readyz"),
		fetch(t, "GET", base, "/metrics"), // 401
	} {
		checkDoc(t, doc, r)
		if strings.Contains(string(r.body), `"accessToken"`) {
			tokens = append(tokens, regexp.MustCompile(`"accessToken":"([^"]+)"`).FindStringSubmatch(string(r.body))[1])
		}
	}
	m := fetch(t, "GET", base, "/metrics", withKey...)
	checkDoc(t, doc, m)
	text := string(m.body)
	for _, want := range []string{
		"jwtcache_cache_hits_total 1",
		"jwtcache_cache_misses_total 1",
		`jwtcache_token_service_requests_total{outcome="ok"} 1`,
		`jwtcache_token_service_request_duration_seconds_count{outcome="ok"} 1`,
		"jwtcache_lock_acquired_total 1",
		`jwtcache_http_requests_total{method="GET",route="/api/v1/jwt/token/:serviceName",status="200"} 2`,
		`jwtcache_http_requests_total{method="GET",route="/api/v1/jwt/token/:serviceName",status="401"} 1`,
		`jwtcache_http_requests_total{method="GET",route="/metrics",status="401"} 1`,
		`jwtcache_http_request_duration_seconds_count{method="GET",route="/api/v1/jwt/token/:serviceName"} 3`,
		`jwtcache_api_auth_failures_total{reason="unauthorized"} 2`,
		`jwtcache_tokens{state="active"} 1`,
		`jwtcache_token_seconds_until_expiry{service="kyc"} 3`,
		`jwtcache_build_info{goversion="` + runtime.Version() + `",version="` + binaryVersion(t, jwtcacheBinary(t), "--version") + `"} 1`,
		"go_goroutines ",
		"process_resident_memory_bytes ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if len(tokens) != 2 {
		t.Fatalf("%d tokens handed out, want 2", len(tokens))
	}
	mustContainNone(t, "the metrics", text, tokens[0], opsSecret, key)
	mustContainNone(t, "the log", p.output(), tokens[0], opsSecret, key)
}

// TestBinaryGracefulShutdown: on SIGTERM the binary stops accepting
// connections, lets a request waiting on a slow token service finish with
// its token, releases the renewal lock, and exits 0. With Redis (when one
// answers) the lock key is checked in Redis itself.
func TestBinaryGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ts := startGatedTokenService(t)
	redisEnv, rc, prefix := sharedRedisEnv(t)
	p, base := serve(t, opsEnv(ts, redisEnv...))
	ts.hold()

	inflight := make(chan response, 1)
	go func() { inflight <- fetch(t, "GET", base, rest.BasePath+"/token/kyc") }()
	<-ts.arrived
	if rc != nil {
		if n, err := rc.Exists(t.Context(), prefix+":jwt:{kyc}:lock").Result(); err != nil || n != 1 {
			t.Fatalf("the renewal lock is not held in Redis during the fetch: %d %v", n, err)
		}
	}

	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitFor(regexp.MustCompile(`rest: draining`))
	redistest.WaitFor(t, 10*time.Second, "the listener to close", func(context.Context) bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	select {
	case <-p.exited:
		t.Fatal("the process exited with a request in flight")
	default:
	}

	ts.open()
	r := <-inflight
	if r.status != 200 || !strings.Contains(string(r.body), `"accessToken":"ey`) {
		t.Fatalf("the request in flight got %d %s", r.status, r.body)
	}
	if code := p.exitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM", code)
	}
	if rc != nil {
		if n, _ := rc.Exists(context.Background(), prefix+":jwt:{kyc}:lock").Result(); n != 0 {
			t.Fatal("the renewal lock outlived the process")
		}
		if n, _ := rc.Exists(context.Background(), prefix+":jwt:{kyc}:token").Result(); n != 1 {
			t.Fatal("the token fetched during shutdown was not stored")
		}
	}
}

// TestBinaryShutdownReleasesAbandonedLock: a fetch whose caller has gone
// (the single flight goes on without it) holds the renewal lock when
// SIGTERM arrives; stopping cancels it, and the lock must be released in
// Redis before the process exits, not left to expire after JWT_LOCK_TTL.
func TestBinaryShutdownReleasesAbandonedLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	ts := startGatedTokenService(t)
	redisEnv, rc, prefix := sharedRedisEnv(t)
	if rc == nil {
		t.Skip("needs Redis: the memory store's lock dies with the process anyway (see TestCloseReleasesLockOfAbandonedFetch)")
	}
	p, base := serve(t, opsEnv(ts, append(redisEnv, "JWT_TOKEN_TIMEOUT=60s", "JWT_LOCK_TTL=120s")...))
	ts.hold()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+rest.BasePath+"/token/kyc", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-ts.arrived
	cancel()
	<-done
	lockKey := prefix + ":jwt:{kyc}:lock"
	if n, _ := rc.Exists(t.Context(), lockKey).Result(); n != 1 {
		t.Fatal("the abandoned fetch does not hold the lock")
	}
	p.stop()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if ttl, _ := rc.PTTL(context.Background(), lockKey).Result(); ttl > 0 {
		t.Fatalf("the renewal lock outlived the process (expires in %v)", ttl)
	}
}

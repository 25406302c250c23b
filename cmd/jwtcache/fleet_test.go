package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
)

// tokenService is the counting development token service the fleet tests
// point their replicas at, with the time of every token request.
type tokenService struct {
	*devissuer.Server
	URL    string
	mu     sync.Mutex
	callAt []time.Time
}

const (
	fleetClientID = "fleet-client"
	fleetSecret   = "fleet+secret/with=odd&chars"
)

func startTokenService(t *testing.T, lifetime time.Duration) *tokenService {
	t.Helper()
	srv, err := devissuer.New(devissuer.Options{ClientID: fleetClientID, ClientSecret: fleetSecret, TokenLifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	ts := &tokenService{Server: srv}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == devissuer.TokenPath {
			ts.mu.Lock()
			ts.callAt = append(ts.callAt, time.Now())
			ts.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ts.URL = hs.URL + devissuer.TokenPath
	return ts
}

func (ts *tokenService) calls() []time.Time {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]time.Time(nil), ts.callAt...)
}

// fleetEnv is the environment of a replica sharing Redis at addrs under
// prefix with the others.
func fleetEnv(ts *tokenService, prefix string, addrs []string, extra ...string) []string {
	env := []string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + fleetClientID, "JWT_CLIENT_SECRET=" + fleetSecret,
		"CACHE_TYPE=redis", "REDIS_ADDRS=" + strings.Join(addrs, ","), "REDIS_KEY_PREFIX=" + prefix,
		"REDIS_TIMEOUT=500ms", "LOG_LEVEL=debug",
	}
	return append(env, extra...)
}

func startFleet(t *testing.T, n int, env []string) ([]*proc, []string) {
	t.Helper()
	procs := make([]*proc, n)
	bases := make([]string, n)
	for i := range n {
		procs[i], bases[i] = serve(t, env)
	}
	return procs, bases
}

// burst sends perReplica concurrent GET /token/{service} to every replica
// at once and returns the access tokens handed out.
func burst(t *testing.T, bases []string, service string, perReplica int) []string {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var tokens []string
	startGate := make(chan struct{})
	for _, base := range bases {
		for range perReplica {
			wg.Go(func() {
				<-startGate
				code, body := call(t, "GET", base+"/api/v1/jwt/token/"+service)
				if code != 200 {
					t.Errorf("GET token/%s on %s: %d %v", service, base, code, body)
					return
				}
				mu.Lock()
				tokens = append(tokens, body["accessToken"].(string))
				mu.Unlock()
			})
		}
	}
	close(startGate)
	wg.Wait()
	return tokens
}

func allSame(tokens []string) bool {
	for _, tok := range tokens {
		if tok != tokens[0] {
			return false
		}
	}
	return len(tokens) > 0
}

// TestFleetOneTokenServiceCallPerToken runs three real replicas on the real
// Redis: a cold start of 300 concurrent requests makes one token-service
// call in all, and with short-lived tokens the fleet renews each token
// exactly once, ahead of its buffer, while every replica keeps serving
// fresh tokens.
func TestFleetOneTokenServiceCallPerToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addr := redistest.RequireShared(t)
	ts := startTokenService(t, time.Hour)
	prefix := redistest.Prefix()
	procs, bases := startFleet(t, 3, fleetEnv(ts, prefix, []string{addr}, "JWT_RENEWAL_BUFFER=3"))

	tokens := burst(t, bases, "kyc", 100)
	if len(tokens) != 300 || !allSame(tokens) {
		t.Fatalf("cold start handed out %d tokens, not all the same", len(tokens))
	}
	if n := ts.Requests(); n != 1 {
		t.Fatalf("cold start of 3 replicas x 100 requests made %d token-service calls, want 1", n)
	}

	// The Redis keys the guide's `redis-cli keys "*jwt*"` finds.
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	keys, err := rc.Keys(t.Context(), prefix+"*jwt*").Result()
	if err != nil || len(keys) == 0 {
		t.Fatalf("no *jwt* keys under %s: %v %v", prefix, keys, err)
	}
	defer rc.Del(context.Background(), keys...)

	// Renewal cycle: 10 s tokens, 3 s buffer; renewal starts 0.6-1.4 s
	// before cacheExpiresAt, i.e. every 4.6-6.4 s.
	if err := ts.SetTokenLifetime(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	before := len(ts.calls())
	if tokens := burst(t, bases, "data-processor", 20); !allSame(tokens) {
		t.Fatal("cold start of data-processor handed out different tokens")
	}
	start := time.Now()
	const watch = 25 * time.Second
	seen := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, base := range bases {
		wg.Go(func() {
			for time.Since(start) < watch {
				code, body := call(t, "GET", base+"/api/v1/jwt/token/data-processor")
				if code != 200 {
					t.Errorf("%s: %d %v", base, code, body)
					return
				}
				if body["needsRenewal"] != false || body["isExpired"] != false {
					t.Errorf("%s handed out a token inside its buffer while the token service was healthy: %v", base, body)
					return
				}
				mu.Lock()
				seen[body["accessToken"].(string)] = true
				mu.Unlock()
				time.Sleep(50 * time.Millisecond) // pacing the load, not waiting for a result
			}
		})
	}
	wg.Wait()
	calls := ts.calls()[before:]
	for i := 1; i < len(calls); i++ {
		t.Logf("token-service call %d at +%v (%v after the previous)", i, calls[i].Sub(start).Round(time.Millisecond), calls[i].Sub(calls[i-1]).Round(time.Millisecond))
	}
	// One call for the cold start, then one per renewal period.
	if len(calls) < 4 || len(calls) > 6 {
		t.Fatalf("%d token-service calls in %v of 10s tokens for 3 replicas, want 4-6 (one per renewal period)", len(calls), watch)
	}
	for i := 1; i < len(calls); i++ {
		// Each token lives 9-10 s from the request's start (the JWT's exp
		// is in whole seconds) and is renewed 4.6-6.4 s after it was
		// issued; a second renewal of the same token would come at once.
		if gap := calls[i].Sub(calls[i-1]); gap < 4*time.Second {
			t.Fatalf("calls %d and %d only %v apart: a token was renewed twice", i-1, i, gap)
		}
	}
	if len(seen) != len(calls) {
		t.Fatalf("replicas served %d distinct tokens for %d token-service calls", len(seen), len(calls))
	}

	// isRenewing/renewingTokens and the statistics endpoint work on every
	// replica; counters are per replica.
	for _, base := range bases {
		code, st := call(t, "GET", base+"/api/v1/jwt/statistics")
		if code != 200 || st["totalTokens"] != 2.0 {
			t.Fatalf("statistics on %s: %d %v", base, code, st)
		}
	}
	for _, p := range procs {
		mustContainNone(t, "a replica's log", p.output(), fleetSecret)
		for tok := range seen {
			mustContainNone(t, "a replica's log", p.output(), tok)
		}
	}
}

// TestFleetRefreshAndEvictReachEveryReplica: a forced refresh or an evict on
// one replica reaches the others' near caches promptly.
func TestFleetRefreshAndEvictReachEveryReplica(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addr := redistest.RequireShared(t)
	ts := startTokenService(t, time.Hour)
	_, bases := startFleet(t, 2, fleetEnv(ts, redistest.Prefix(), []string{addr}))
	a, b := bases[0]+"/api/v1/jwt", bases[1]+"/api/v1/jwt"

	_, first := call(t, "GET", a+"/token/kyc")
	if _, onB := call(t, "GET", b+"/token/kyc"); onB["accessToken"] != first["accessToken"] {
		t.Fatal("replica B did not take replica A's token from Redis")
	}
	code, ref := call(t, "POST", a+"/refresh/kyc")
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	redistest.WaitFor(t, 5*time.Second, "replica B to hand out the refreshed token", func(context.Context) bool {
		_, onB := call(t, "GET", b+"/token/kyc")
		return onB["accessToken"] == ref["accessToken"]
	})
	if n := ts.Requests(); n != 2 {
		t.Fatalf("%d token-service calls, want 2 (first fetch, refresh)", n)
	}

	if code, ev := call(t, "DELETE", a+"/evict/kyc"); code != 200 || ev["evicted"] != true {
		t.Fatalf("evict: %d %v", code, ev)
	}
	redistest.WaitFor(t, 5*time.Second, "replica B to see the eviction", func(context.Context) bool {
		_, st := call(t, "GET", b+"/status/kyc")
		return st["exists"] == false
	})
	_, onB := call(t, "GET", b+"/token/kyc")
	if onB["accessToken"] == ref["accessToken"] {
		t.Fatal("replica B still hands out the evicted token")
	}
}

// TestFleetSurvivesRedisOutage stops a private Redis under two replicas:
// they keep serving valid tokens from their near caches, fetch what they
// must from the token service, report DEGRADED, and recover by themselves
// when Redis is back, empty, repopulating it with one call per service.
func TestFleetSurvivesRedisOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rs := redistest.StartServer(t)
	ts := startTokenService(t, time.Hour)
	_, bases := startFleet(t, 2, fleetEnv(ts, redistest.Prefix(), []string{rs.Addr}))

	kyc := burst(t, bases, "kyc", 10)
	rs.Stop()
	for _, base := range bases {
		code, tok := call(t, "GET", base+"/api/v1/jwt/token/kyc")
		if code != 200 || tok["accessToken"] != kyc[0] {
			t.Fatalf("with Redis down, %s: %d %v", base, code, tok)
		}
		code, h := call(t, "GET", base+"/api/v1/jwt/health")
		comps, _ := h["components"].(map[string]any)
		store, _ := comps["store"].(map[string]any)
		if code != 200 || h["status"] != "DEGRADED" || store["status"] != "DOWN" {
			t.Fatalf("health with Redis down on %s: %d %v", base, code, h)
		}
		if code, tok := call(t, "GET", base+"/api/v1/jwt/token/reference-data"); code != 200 || tok["accessToken"] == "" {
			t.Fatalf("a new service with Redis down on %s: %d %v", base, code, tok)
		}
	}

	rs.Start() // empty: it keeps nothing on disk
	for _, base := range bases {
		redistest.WaitFor(t, 15*time.Second, "health UP again on "+base, func(context.Context) bool {
			_, h := call(t, "GET", base+"/api/v1/jwt/health")
			return h["status"] == "UP"
		})
	}
	before := ts.Requests()
	if tokens := burst(t, bases, "data-processor", 50); !allSame(tokens) {
		t.Fatal("after the restart replicas handed out different tokens for one service")
	}
	if n := ts.Requests() - before; n != 1 {
		t.Fatalf("repopulating one service after the Redis restart took %d token-service calls, want 1", n)
	}
}

// TestFleetOnRedisCluster runs two replicas on a three-node Redis Cluster
// the test starts: the REST flow, the one-call cold start, and a refresh
// seen across replicas.
func TestFleetOnRedisCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addrs := redistest.StartCluster(t, 3)
	ts := startTokenService(t, time.Hour)
	procs, bases := startFleet(t, 2, fleetEnv(ts, redistest.Prefix(), addrs))
	if !strings.Contains(procs[0].output(), "redisMode=cluster") {
		t.Fatal("the replica did not start in cluster mode")
	}
	services := []string{"kyc", "data-processor", "reference-data", "ledger", "payments", "accounts"}
	for _, svc := range services {
		if tokens := burst(t, bases, svc, 20); !allSame(tokens) {
			t.Fatalf("%s: different tokens across the fleet", svc)
		}
	}
	if n := ts.Requests(); n != int64(len(services)) {
		t.Fatalf("%d token-service calls for %d services", n, len(services))
	}
	api := bases[1] + "/api/v1/jwt"
	code, all := call(t, "GET", api+"/status")
	if code != 200 || all["totalTokens"] != float64(len(services)) {
		t.Fatalf("status on the cluster: %d %v", code, all)
	}
	code, ref := call(t, "POST", bases[0]+"/api/v1/jwt/refresh/ledger")
	if code != 200 {
		t.Fatalf("refresh: %d %v", code, ref)
	}
	redistest.WaitFor(t, 5*time.Second, "the refreshed token on the other replica", func(context.Context) bool {
		_, tok := call(t, "GET", api+"/token/ledger")
		return tok["accessToken"] == ref["accessToken"]
	})
	if code, ev := call(t, "DELETE", api+"/evict/kyc"); code != 200 || ev["evicted"] != true {
		t.Fatalf("evict: %d %v", code, ev)
	}
	if code, h := call(t, "GET", api+"/health"); code != 200 || h["status"] != "UP" {
		t.Fatalf("health: %d %v", code, h)
	}
}

// TestCorruptValueIsAMissNotACrash plants garbage under a service's key: the
// replica fetches a new token, overwrites the garbage and keeps serving.
func TestCorruptValueIsAMissNotACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	addr := redistest.RequireShared(t)
	ts := startTokenService(t, time.Hour)
	prefix := redistest.Prefix()
	_, base := serve(t, fleetEnv(ts, prefix, []string{addr}))
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	key := fmt.Sprintf("%s:jwt:{%s}:token", prefix, "kyc")
	defer rc.Del(context.Background(), key, prefix+":jwt:index")
	for _, garbage := range []string{"not json", `{"v":99}`, `{"v":1,"tok":42}`} {
		if err := rc.Set(t.Context(), key, garbage, time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
		code, st := call(t, "GET", base+"/api/v1/jwt/status/kyc")
		if code != 200 || st["exists"] != false {
			t.Fatalf("status over a corrupt value %q: %d %v", garbage, code, st)
		}
		code, tok := call(t, "POST", base+"/api/v1/jwt/refresh/kyc")
		if code != 200 {
			t.Fatalf("refresh over a corrupt value %q: %d %v", garbage, code, tok)
		}
		v, err := rc.Get(t.Context(), key).Result()
		if err != nil || !strings.Contains(v, `"v":1`) || strings.Contains(v, garbage) {
			t.Fatalf("the corrupt value was not overwritten: %v", err)
		}
	}
}

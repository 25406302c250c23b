package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitsEnv is a memory-cache server's environment against ts, with extra.
func limitsEnv(ts *tokenService, extra ...string) []string {
	return append([]string{"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + fleetClientID,
		"JWT_CLIENT_SECRET=" + fleetSecret}, extra...)
}

// answer is one HTTP answer: status, Retry-After and the JSON body.
type answer struct {
	status     int
	retryAfter string
	body       map[string]any
}

func ask(t *testing.T, method, url string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return answer{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Errorf("%s %s: %d, body not JSON: %q", method, url, resp.StatusCode, raw)
	}
	return a
}

// TestBinaryServiceLimitAndRefreshFloor floods the real server with random
// names against JWT_MAX_SERVICES=50, then storms one service with forced
// refreshes: 50 token-service calls for the names, one for the storm.
func TestBinaryServiceLimitAndRefreshFloor(t *testing.T) {
	ts := startTokenService(t, time.Hour)
	// A floor of a minute: a loaded machine may take more than 5 s for 200 requests.
	_, base := serve(t, limitsEnv(ts, "JWT_MAX_SERVICES=50", "JWT_TOKEN_RATE=0", "JWT_REFRESH_MIN_INTERVAL=60"))
	api := base + "/api/v1/jwt"

	const names = 500
	var mu sync.Mutex
	byStatus := map[int]int{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < names; i += 16 {
				a := ask(t, "GET", fmt.Sprintf("%s/token/svc-%x", api, uint32(i)*2654435761))
				if a.status == 503 && (a.body["error"] != "too_many_services" || !strings.Contains(fmt.Sprint(a.body["message"]), "limit of 50 ")) {
					t.Errorf("503 answer %v", a.body)
				}
				mu.Lock()
				byStatus[a.status]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if byStatus[200] != 50 || byStatus[503] != names-50 || len(ts.calls()) != 50 {
		t.Fatalf("answers %v and %d token-service calls for %d names; want 50 × 200, %d × 503, 50 calls",
			byStatus, len(ts.calls()), names, names-50)
	}
	known := fmt.Sprintf("svc-%x", uint32(0))
	if a := ask(t, "GET", api+"/token/"+known); a.status != 200 {
		t.Fatalf("a name held stopped working at the limit: %d %v", a.status, a.body)
	}

	// 100 forced refreshes at once, then 100 more one after another.
	before := len(ts.calls())
	messages := map[string]int{}
	for round := range 2 {
		for range 100 {
			run := func() {
				a := ask(t, "POST", api+"/refresh/"+known)
				mu.Lock()
				messages[fmt.Sprint(a.status, " ", a.body["message"])]++
				mu.Unlock()
			}
			if round == 0 {
				wg.Go(run)
			} else {
				run()
			}
		}
		wg.Wait()
	}
	if n := len(ts.calls()) - before; n != 1 {
		t.Fatalf("%d token-service calls for 200 forced refreshes within the floor, want 1 (answers %v)", n, messages)
	}
	if messages["200 Token refreshed recently; returning the token from that refresh"] < 100 {
		t.Fatalf("answers %v: want at least the 100 sequential ones reused", messages)
	}

	st := ask(t, "GET", api+"/statistics")
	if st.body["serviceLimitRefusals"] != float64(names-50) || st.body["reusedRefreshes"].(float64) < 100 {
		t.Fatalf("statistics %v", st.body)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	if want := fmt.Sprintf(`jwtcache_requests_refused_total{reason="too_many_services"} %d`, names-50); !strings.Contains(string(metrics), want) {
		t.Fatalf("/metrics lacks %q", want)
	}
}

// TestBinaryTokenBudget: with a burst of 3 and 1 a second, the fourth new
// name at once is 429 rate_limited with Retry-After, without a call.
func TestBinaryTokenBudget(t *testing.T) {
	ts := startTokenService(t, time.Hour)
	_, base := serve(t, limitsEnv(ts, "JWT_TOKEN_RATE=1", "JWT_TOKEN_BURST=3"))
	api := base + "/api/v1/jwt"
	statuses := make([]int, 6)
	for i := range statuses {
		a := ask(t, "GET", fmt.Sprintf("%s/token/svc-%d", api, i))
		statuses[i] = a.status
		if a.status == 429 && (a.body["error"] != "rate_limited" || a.retryAfter != "1") {
			t.Fatalf("429 answer: Retry-After %q, %v", a.retryAfter, a.body)
		}
	}
	// The server's own time runs on: at most one more second's token.
	allowed := 0
	for _, s := range statuses {
		if s == 200 {
			allowed++
		}
	}
	if allowed < 3 || allowed > 4 || statuses[0] != 200 || statuses[5] != 429 || len(ts.calls()) != allowed {
		t.Fatalf("statuses %v with %d token-service calls; want the burst of 3 (4 if a second passed) then 429",
			statuses, len(ts.calls()))
	}
	st := ask(t, "GET", api+"/statistics")
	if st.body["rateLimitRefusals"] != float64(6-allowed) || st.body["tokenServiceFailures"] != float64(0) {
		t.Fatalf("statistics %v", st.body)
	}
}

package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRunCountsEveryRequest(t *testing.T) {
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	var mu sync.Mutex
	observed := map[int]int{}
	res, err := Run(context.Background(), Options{
		URL: func(client int) string {
			if client == 0 {
				return srv.URL + "/missing"
			}
			return srv.URL + "/ok"
		},
		Clients:  3,
		Duration: 200 * time.Millisecond,
		Observe: func(s Sample) {
			if s.Err != nil {
				t.Errorf("client %d: %v", s.Client, s.Err)
				return
			}
			if s.Status == http.StatusOK && string(s.Body) != `{"ok":true}` {
				t.Errorf("body %q", s.Body)
			}
			mu.Lock()
			observed[s.Status]++
			mu.Unlock()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || int64(res.Requests) != served.Load() || res.Errors != 0 {
		t.Fatalf("requests %d, served %d, errors %d", res.Requests, served.Load(), res.Errors)
	}
	if res.Statuses[200]+res.Statuses[404] != res.Requests || res.Statuses[404] == 0 {
		t.Fatalf("statuses %v for %d requests", res.Statuses, res.Requests)
	}
	if observed[200] != res.Statuses[200] || observed[404] != res.Statuses[404] {
		t.Fatalf("observed %v, counted %v", observed, res.Statuses)
	}
	if p50, p99 := res.Percentile(0.5), res.Percentile(0.99); p50 <= 0 || p99 < p50 || res.Max() < p99 {
		t.Fatalf("p50 %v p99 %v max %v", p50, p99, res.Max())
	}
	if res.Rate() <= 0 {
		t.Fatalf("rate %v", res.Rate())
	}
}

func TestRunBoundsTheRate(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	res, err := Run(context.Background(), Options{
		URL:      func(int) string { return srv.URL },
		Clients:  2,
		Duration: 500 * time.Millisecond,
		Rate:     20, // one request every 50ms per client: about 10 each
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests < 4 || res.Requests > 24 {
		t.Fatalf("%d requests from 2 clients at 20/s in 0.5s, want about 20", res.Requests)
	}
}

func TestRunCountsRequestsWithoutAnswer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	url := srv.URL
	srv.Close() // nothing listens there any more
	res, err := Run(context.Background(), Options{
		URL: func(int) string { return url }, Clients: 1, Duration: 100 * time.Millisecond, Rate: 100,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != res.Requests || res.Percentile(0.5) != 0 {
		t.Fatalf("requests %d errors %d p50 %v", res.Requests, res.Errors, res.Percentile(0.5))
	}
}

func TestRunChecksOptions(t *testing.T) {
	url := func(int) string { return "http://127.0.0.1:1" }
	for name, o := range map[string]Options{
		"no URL":      {Clients: 1, Duration: time.Second},
		"no clients":  {URL: url, Duration: time.Second},
		"no duration": {URL: url, Clients: 1},
		"bad rate":    {URL: url, Clients: 1, Duration: time.Second, Rate: -1},
	} {
		if _, err := Run(context.Background(), o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestPercentileNearestRank(t *testing.T) {
	r := Result{latencies: []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	for p, want := range map[float64]time.Duration{0.1: 1, 0.5: 5, 0.9: 9, 0.99: 10, 1: 10} {
		if got := r.Percentile(p); got != want {
			t.Errorf("p%v = %v, want %v", p*100, got, want)
		}
	}
}

func TestMerge(t *testing.T) {
	a := Result{Requests: 3, Errors: 1, Statuses: map[int]int{200: 2}, Elapsed: time.Second, latencies: []time.Duration{5, 1}}
	b := Result{Requests: 2, Statuses: map[int]int{200: 1, 503: 1}, Elapsed: time.Second, latencies: []time.Duration{3, 2}}
	m := Merge(a, b)
	if m.Requests != 5 || m.Errors != 1 || m.Statuses[200] != 3 || m.Statuses[503] != 1 || m.Elapsed != 2*time.Second {
		t.Fatalf("merged %+v", m)
	}
	if m.Rate() != 2 || m.Percentile(0.5) != 2 || m.Max() != 5 {
		t.Fatalf("rate %v p50 %v max %v", m.Rate(), m.Percentile(0.5), m.Max())
	}
}

package metrics

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// series counts the series of the metric family name.
func series(t *testing.T, m *Metrics, name string) int {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return len(mf.GetMetric())
		}
	}
	return 0
}

const tokenRoute = "/api/v1/jwt/token/:serviceName"

func TestObserveRequestCountsByRouteMethodStatus(t *testing.T) {
	m := New(Options{Logger: quiet})
	m.ObserveRequest(tokenRoute, "GET", 200, 300*time.Microsecond)
	m.ObserveRequest(tokenRoute, "GET", 200, 2*time.Second)
	m.ObserveRequest(tokenRoute, "GET", 503, time.Millisecond)
	m.ObserveRequest("/api/v1/jwt/refresh/:serviceName", "POST", 200, time.Millisecond)

	for _, tc := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", tokenRoute, "method", "GET", "status", "200"}, 2},
		{[]string{"route", tokenRoute, "method", "GET", "status", "503"}, 1},
		{[]string{"route", "/api/v1/jwt/refresh/:serviceName", "method", "POST", "status", "200"}, 1},
	} {
		if got := mustValue(t, m, "jwtcache_http_requests_total", tc.labels...); got != tc.want {
			t.Errorf("jwtcache_http_requests_total%v = %v, want %v", tc.labels, got, tc.want)
		}
	}
	if n := series(t, m, "jwtcache_http_requests_total"); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
	// The histogram has no status label: one series per route and method.
	if got := mustValue(t, m, "jwtcache_http_request_duration_seconds", "route", tokenRoute, "method", "GET"); got != 3 {
		t.Errorf("%v token requests timed, want 3", got)
	}
	if n := series(t, m, "jwtcache_http_request_duration_seconds"); n != 2 {
		t.Errorf("%d duration series, want 2", n)
	}
	// The buckets place a sub-millisecond hit and a 2 s miss apart.
	h := histogram(t, m, "jwtcache_http_request_duration_seconds", tokenRoute, "GET")
	if got := h.GetSampleSum(); got < 2.001 || got > 2.0014 {
		t.Errorf("sum %v s, want 2.0013", got)
	}
	for _, b := range h.GetBucket() {
		want := uint64(0)
		switch {
		case b.GetUpperBound() >= 2:
			want = 3
		case b.GetUpperBound() >= 0.001:
			want = 2
		case b.GetUpperBound() >= 0.0005:
			want = 1
		}
		if b.GetCumulativeCount() != want {
			t.Errorf("bucket le=%v holds %d, want %d", b.GetUpperBound(), b.GetCumulativeCount(), want)
		}
	}
}

// TestObserveRequestBoundsSeries: nothing a client controls creates a
// series: not the path (the route template is the label, and no route is
// "unmatched"), not the method, not a status out of range.
func TestObserveRequestBoundsSeries(t *testing.T) {
	m := New(Options{Logger: quiet})
	m.ObserveRequest(tokenRoute, "GET", 200, time.Millisecond)
	m.ObserveRequest("", "GET", 404, time.Millisecond)
	m.ObserveRequest("", "BREW", 405, time.Millisecond)
	before := series(t, m, "jwtcache_http_requests_total")
	for i := range 1000 {
		m.ObserveRequest(tokenRoute, "GET", 200, time.Millisecond) // the REST adapter passes the template
		m.ObserveRequest("", "GET", 404, time.Millisecond)         // /no/such/path-<i>
		m.ObserveRequest("", fmt.Sprintf("M%d", i), 405, time.Millisecond)
	}
	if after := series(t, m, "jwtcache_http_requests_total"); after != before {
		t.Fatalf("1,000 requests with new paths and methods made %d series into %d", before, after)
	}
	if got := mustValue(t, m, "jwtcache_http_requests_total", "route", UnmatchedRoute, "method", "GET", "status", "404"); got != 1001 {
		t.Errorf("unmatched GET 404 = %v, want 1001", got)
	}
	if got := mustValue(t, m, "jwtcache_http_requests_total", "route", UnmatchedRoute, "method", "other", "status", "405"); got != 1001 {
		t.Errorf("unmatched other 405 = %v, want 1001", got)
	}
	m.ObserveRequest(tokenRoute, "GET", 0, time.Millisecond)
	m.ObserveRequest(tokenRoute, "GET", 1000, time.Millisecond)
	if got := mustValue(t, m, "jwtcache_http_requests_total", "route", tokenRoute, "method", "GET", "status", "other"); got != 2 {
		t.Errorf("statuses out of range counted %v times as other, want 2", got)
	}
}

// TestObserveRequestAllocatesNothing: once its series exists, counting a
// request costs the REST hot path no allocation.
func TestObserveRequestAllocatesNothing(t *testing.T) {
	m := New(Options{Logger: quiet})
	m.ObserveRequest(tokenRoute, "GET", 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveRequest(tokenRoute, "GET", 200, time.Millisecond) }); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}

func TestObserveRequestConcurrent(t *testing.T) {
	m := New(Options{Logger: quiet})
	const goroutines, each = 8, 500
	done := make(chan struct{})
	for g := range goroutines {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range each {
				m.ObserveRequest(tokenRoute, "GET", 200+(g+i)%4, time.Millisecond)
			}
		}()
	}
	for range goroutines {
		<-done
	}
	var total float64
	for s := 200; s < 204; s++ {
		total += mustValue(t, m, "jwtcache_http_requests_total", "status", fmt.Sprint(s))
	}
	if total != goroutines*each {
		t.Fatalf("%v requests counted, want %d", total, goroutines*each)
	}
}

func histogram(t *testing.T, m *Metrics, name, route, method string) *dto.Histogram {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, met := range mf.GetMetric() {
			if labelValue(met, "route") == route && labelValue(met, "method") == method {
				return met.GetHistogram()
			}
		}
	}
	t.Fatalf("no %s{route=%q,method=%q}", name, route, method)
	return nil
}

// BenchmarkObserveRequest is what counting one REST request costs, clock
// reads excluded (the REST adapter's middleware adds two).
func BenchmarkObserveRequest(b *testing.B) {
	m := New(Options{Logger: quiet})
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveRequest(tokenRoute, "GET", 200, 300*time.Microsecond)
	}
}

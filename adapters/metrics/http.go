package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// UnmatchedRoute is the route label of requests that matched no route (404
// and 405 answers): the raw path never becomes a label, so that a client
// sending random paths cannot create series.
const UnmatchedRoute = "unmatched"

// otherLabel stands for a method or status outside the known set.
const otherLabel = "other"

// DefaultHTTPBuckets are the REST latency histogram's buckets: a cache hit
// is answered in well under a millisecond; a miss waits for the token
// service, which the core cuts off after its timeout (10 s by default).
var DefaultHTTPBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// httpKey is one series of jwtcache_http_requests_total, labels normalized.
type httpKey struct {
	route, method string
	status        int // 0 stands for otherLabel
}

// httpSeries are the resolved children of one httpKey.
type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// httpMetrics counts and times the REST API's requests.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec

	// series is an immutable map, replaced whole (under mu) when a request
	// brings a new label combination, so that the common case, a known
	// series, is one atomic load and a map read: no lock, no allocation.
	// Its size is bounded by the routes registered times the methods
	// (normalizeMethod) times the statuses the handlers answer.
	series atomic.Pointer[map[httpKey]httpSeries]
	mu     sync.Mutex
}

func newHTTPMetrics(buckets []float64) *httpMetrics {
	if len(buckets) == 0 {
		buckets = DefaultHTTPBuckets
	}
	h := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "http_requests_total",
			Help: "HTTP requests answered by the REST API, by route template (\"" + UnmatchedRoute + "\" for none), method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "http_request_duration_seconds",
			Help:    "Time the REST API took to answer a request, by route template and method.",
			Buckets: buckets,
		}, []string{"route", "method"}),
	}
	h.series.Store(&map[httpKey]httpSeries{})
	return h
}

// ObserveRequest counts one request the REST API answered and records how
// long it took. route is the route template that matched (for example
// /api/v1/jwt/token/:serviceName), never the request's path; "" means no
// route matched and is counted as UnmatchedRoute. Methods outside the
// standard ones and statuses outside 100..599 are counted as "other".
// Once a label combination has been seen, it allocates nothing.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	s := m.http.lookup(httpKey{route: normalizeRoute(route), method: normalizeMethod(method), status: normalizeStatus(status)})
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

func (h *httpMetrics) lookup(k httpKey) httpSeries {
	if s, ok := (*h.series.Load())[k]; ok {
		return s
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := *h.series.Load()
	if s, ok := old[k]; ok {
		return s
	}
	status := otherLabel
	if k.status != 0 {
		status = strconv.Itoa(k.status)
	}
	s := httpSeries{
		requests: h.requests.WithLabelValues(k.route, k.method, status),
		duration: h.duration.WithLabelValues(k.route, k.method),
	}
	next := make(map[httpKey]httpSeries, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = s
	h.series.Store(&next)
	return s
}

func normalizeRoute(route string) string {
	if route == "" {
		return UnmatchedRoute
	}
	return route
}

// normalizeMethod keeps the methods of RFC 9110 and PATCH; any other
// token a client sends would otherwise be a new series.
func normalizeMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return method
	default:
		return otherLabel
	}
}

func normalizeStatus(status int) int {
	if status < 100 || status > 599 {
		return 0
	}
	return status
}

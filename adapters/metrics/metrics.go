package metrics

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// namespace prefixes every metric of jwtcache's own.
const namespace = "jwtcache"

// Options configures New. Every field is optional.
type Options struct {
	// Logger receives the errors of a scrape (a collector that could not
	// read the store, say). Default: slog.Default().
	Logger *slog.Logger
	// Buckets are the upper bounds, in seconds, of the token-service
	// latency histogram. Default: DefaultBuckets.
	Buckets []float64
	// Version, when set, is exported as jwtcache_build_info{version},
	// beside the Go release the binary was built with (goversion).
	Version string
	// HTTPBuckets are the upper bounds, in seconds, of the REST latency
	// histogram (jwtcache_http_request_duration_seconds). Default:
	// DefaultHTTPBuckets.
	HTTPBuckets []float64
}

// DefaultBuckets are the latency histogram's buckets: a token endpoint
// answers in milliseconds when healthy and is cut off by the client's
// timeout (10 s by default) when not.
var DefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics is jwtcache's metric registry with the decorators and collectors
// that feed it. It is safe for concurrent use; build it with New.
type Metrics struct {
	reg     *prometheus.Registry
	log     *slog.Logger
	handler http.Handler

	// The children below are resolved once so that counting allocates
	// nothing; indexes are outcome and operation.
	requests     [numOutcomes]prometheus.Counter
	latency      [numOutcomes]prometheus.Observer
	storeErrors  [numOperations]prometheus.Counter
	lockAcquired prometheus.Counter
	lockContend  prometheus.Counter
	http         *httpMetrics

	mu sync.Mutex
	// observedCache and observedAuth guard against registering a second
	// source of the same metrics.
	observedCache, observedAuth bool // guarded by mu
}

// New returns a Metrics whose registry holds the decorators' metrics and
// the Go runtime and process collectors. The cache's and the REST API's
// metrics are added by ObserveCache and ObserveAuth.
func New(opts Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), log: opts.Logger}
	if m.log == nil {
		m.log = slog.Default()
	}
	buckets := opts.Buckets
	if len(buckets) == 0 {
		buckets = DefaultBuckets
	}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "token_service_requests_total",
		Help: "Token requests made to the token service, by outcome (ok, rejected, bad_response, unreachable, timeout, canceled, error).",
	}, []string{"outcome"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "token_service_request_duration_seconds",
		Help:    "Duration of token requests to the token service, by outcome.",
		Buckets: buckets,
	}, []string{"outcome"})
	for o := range outcome(numOutcomes) {
		m.requests[o] = requests.WithLabelValues(o.String())
		m.latency[o] = latency.WithLabelValues(o.String())
	}
	storeErrors := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "store_errors_total",
		Help: "Failed operations of the token store and renewal locker, by operation; a missing token is not a failure.",
	}, []string{"operation"})
	for op := range operation(numOperations) {
		m.storeErrors[op] = storeErrors.WithLabelValues(op.String())
	}
	m.lockAcquired = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "lock_acquired_total",
		Help: "Renewal locks this process acquired (one per token-service call it was allowed to make).",
	})
	m.lockContend = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "lock_contended_total",
		Help: "Attempts to take a renewal lock that another renewer held; a waiting renewer retries, so one wait may count several.",
	})
	m.http = newHTTPMetrics(opts.HTTPBuckets)
	m.reg.MustRegister(requests, latency, storeErrors, m.lockAcquired, m.lockContend,
		m.http.requests, m.http.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if opts.Version != "" {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: namespace, Name: "build_info",
			Help:        "Always 1; its labels are the running jwtcache's version and the Go release it was built with.",
			ConstLabels: prometheus.Labels{"version": opts.Version, "goversion": runtime.Version()},
		}, func() float64 { return 1 }))
	}
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:      slogPrinter{m.log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.reg,
	})
	return m
}

// Registry is the registry the metrics are kept in, for an embedding
// program that wants to add metrics of its own to the same /metrics.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format. A
// collector that fails (the shared store is unreadable) leaves its metrics
// out of that scrape, is logged, and counts in
// promhttp_metric_handler_errors_total; the other metrics are served.
func (m *Metrics) Handler() http.Handler { return m.handler }

// slogPrinter is promhttp's error log, sent to slog.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	p.l.Warn("metrics: scrape incomplete", "err", fmt.Sprint(v...))
}

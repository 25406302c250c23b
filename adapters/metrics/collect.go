package metrics

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jwtcache/jwtcache/app"
)

// scrapeTimeout bounds the store reads of one scrape; Prometheus's own
// default scrape timeout is 10 s.
const scrapeTimeout = 5 * time.Second

// Cache is what the metrics read from the core at scrape time; *app.Cache
// satisfies it.
type Cache interface {
	Counters() app.Counters
	Statuses(ctx context.Context) (app.Statuses, error)
}

// AuthCounters are the REST API's refused-request counters; *rest.Auth
// satisfies it (a nil *rest.Auth, an open API, counts zero).
type AuthCounters interface {
	// Failures counts requests refused 401 (no or unknown API key).
	Failures() uint64
	// Forbidden counts requests refused 403 (key not allowed the service).
	Forbidden() uint64
}

// ObserveCache adds the metrics read from c at each scrape: the core's
// request counters, the number of cached tokens, and each cached token's
// seconds until expiry (one series per service name in the store). It is
// an error to call it twice.
func (m *Metrics) ObserveCache(c Cache) error {
	if c == nil {
		return errors.New("metrics: ObserveCache needs a Cache")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.observedCache {
		return errors.New("metrics: a cache is already observed")
	}
	if err := m.reg.Register(&cacheCollector{cache: c}); err != nil {
		return err
	}
	m.observedCache = true
	return nil
}

// ObserveAuth adds jwtcache_api_auth_failures_total, read from a at each
// scrape. It is an error to call it twice.
func (m *Metrics) ObserveAuth(a AuthCounters) error {
	if a == nil {
		return errors.New("metrics: ObserveAuth needs AuthCounters")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.observedAuth {
		return errors.New("metrics: API auth is already observed")
	}
	if err := m.reg.Register(&authCollector{auth: a}); err != nil {
		return err
	}
	m.observedAuth = true
	return nil
}

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// The cache's metrics, read from the core at scrape time.
var (
	descHits = newDesc("cache_hits_total",
		"Token requests this process answered from its near cache without waiting.")
	descMisses = newDesc("cache_misses_total",
		"Token requests this process could not answer from its near cache: it fetched a token, read it from the store or waited for another replica's.")
	descRenewals = newDesc("renewals_total",
		"Token-service fetches by this process that replaced a token it had cached (forced refreshes excluded).")
	descRenewalFailures = newDesc("renewal_failures_total",
		"Renewals by this process that failed; each is retried with backoff while the old token is valid.")
	descForced = newDesc("forced_refreshes_total",
		"Forced refreshes asked of this process (POST /refresh).")
	descEvictions = newDesc("evictions_total",
		"Tokens evicted through this process.")
	descRefused = newDesc("requests_refused_total",
		"Token requests this process refused by its limits, by reason: too_many_services (a new name beyond JWT_MAX_SERVICES) or rate_limited (the token-service client's budget was spent).", "reason")
	descReused = newDesc("reused_refreshes_total",
		"Forced refreshes answered with the token of one less than JWT_REFRESH_MIN_INTERVAL earlier, without a token-service call.")
	descStoreWriteFailures = newDesc("store_write_failures_total",
		"Tokens the shared store would not take (Redis full, read-only or unreachable); each stayed served from this process alone.")
	descTokens = newDesc("tokens",
		"Tokens in the shared store, by state: active (not expired) or expired (not yet cleaned up).", "state")
	descRenewing = newDesc("tokens_renewing",
		"Tokens being renewed now, by this process or, with a shared store, any replica.")
	descUntilExpiry = newDesc("token_seconds_until_expiry",
		"Seconds until each cached token expires (negative once expired, until cleanup removes it), by service name.", "service")
	descAuthFailures = newDesc("api_auth_failures_total",
		"REST requests refused by the API key check, by reason: unauthorized (401, no or unknown key) or forbidden (403, key limited to other services).", "reason")
)

// cacheCollector reads the core at scrape time, so that the hit path pays
// nothing for metrics: the core's counters are atomics it keeps anyway.
type cacheCollector struct{ cache Cache }

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHits, descMisses, descRenewals, descRenewalFailures,
		descForced, descEvictions, descRefused, descReused, descStoreWriteFailures, descTokens, descRenewing, descUntilExpiry} {
		ch <- d
	}
}

// Collect reads the core's counters, which touch no store and so are
// there even while Redis is down, and every token's status, one read of
// the shared store from which the token gauges are derived. When the store
// cannot be read the scrape goes on without the token gauges, and the
// failure shows in jwtcache_store_errors_total.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	counter := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	n := c.cache.Counters()
	counter(descHits, n.CacheHits)
	counter(descMisses, n.CacheMisses)
	counter(descRenewals, n.Renewals)
	counter(descRenewalFailures, n.RenewalFailures)
	counter(descForced, n.ForcedRefreshes)
	counter(descEvictions, n.Evictions)
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(n.ServiceLimitRefusals), "too_many_services")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(n.RateLimitRefusals), "rate_limited")
	counter(descReused, n.ReusedRefreshes)
	counter(descStoreWriteFailures, n.StoreWriteFailures)

	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	all, err := c.cache.Statuses(ctx)
	if err == nil && all.Partial() {
		// The near cache answered for the store: not the store's tokens.
		err = errors.New(all.StoreError)
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descTokens, fmt.Errorf("metrics: token statuses: %w", err))
		return
	}
	var active, expired, renewing int
	for _, t := range all.Tokens {
		if !t.Exists {
			continue
		}
		if t.Expired() {
			expired++
		} else {
			active++
		}
		if t.Renewing {
			renewing++
		}
		ch <- prometheus.MustNewConstMetric(descUntilExpiry, prometheus.GaugeValue,
			t.ExpiresAt.Sub(all.At).Seconds(), t.Service)
	}
	ch <- prometheus.MustNewConstMetric(descTokens, prometheus.GaugeValue, float64(active), "active")
	ch <- prometheus.MustNewConstMetric(descTokens, prometheus.GaugeValue, float64(expired), "expired")
	ch <- prometheus.MustNewConstMetric(descRenewing, prometheus.GaugeValue, float64(renewing))
}

// authCollector reads the REST API's refusal counters at scrape time.
type authCollector struct{ auth AuthCounters }

func (c *authCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descAuthFailures }

func (c *authCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descAuthFailures, prometheus.CounterValue, float64(c.auth.Failures()), "unauthorized")
	ch <- prometheus.MustNewConstMetric(descAuthFailures, prometheus.CounterValue, float64(c.auth.Forbidden()), "forbidden")
}

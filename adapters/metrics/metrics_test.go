package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"

	"github.com/jwtcache/jwtcache/adapters/memory"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/app/embedded"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// Metrics is what the composition root wraps the core's ports with.
var _ embedded.Instrumentation = (*Metrics)(nil)

var quiet = slog.New(slog.DiscardHandler)

// value is the value of the metric name with the given label pairs in m's
// registry, and whether it exists.
func value(t *testing.T, m *Metrics, name string, labels ...string) (float64, bool) {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, met := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if labelValue(met, labels[i]) != labels[i+1] {
					continue next
				}
			}
			switch {
			case met.Counter != nil:
				return met.Counter.GetValue(), true
			case met.Gauge != nil:
				return met.Gauge.GetValue(), true
			case met.Histogram != nil:
				return float64(met.Histogram.GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func mustValue(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	v, ok := value(t, m, name, labels...)
	if !ok {
		t.Fatalf("no metric %s%v", name, labels)
	}
	return v
}

type issuerFunc func(ctx context.Context, service string) (domain.Token, error)

func (f issuerFunc) Issue(ctx context.Context, service string) (domain.Token, error) {
	return f(ctx, service)
}

func validToken(now time.Time, n int64) domain.Token {
	return domain.Token{AccessToken: fmt.Sprintf("tok-%d", n), TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
}

func TestIssuerOutcomes(t *testing.T) {
	tse := func(k domain.TokenServiceErrorKind) error { return &domain.TokenServiceError{Kind: k, Service: "kyc"} }
	tests := []struct {
		name    string
		tok     domain.Token
		err     error
		outcome string // "" means not counted
	}{
		{"ok", validToken(time.Now(), 1), nil, "ok"},
		{"rejected", domain.Token{}, tse(domain.Rejected), "rejected"},
		{"bad response", domain.Token{}, tse(domain.BadResponse), "bad_response"},
		{"unreachable", domain.Token{}, tse(domain.Unreachable), "unreachable"},
		{"timeout", domain.Token{}, &domain.TokenServiceError{Kind: domain.Timeout, Err: context.DeadlineExceeded}, "timeout"},
		{"wrapped rejection", domain.Token{}, fmt.Errorf("cached: %w", tse(domain.Rejected)), "rejected"},
		{"deadline", domain.Token{}, fmt.Errorf("tokenservice: %w", context.DeadlineExceeded), "timeout"},
		{"canceled", domain.Token{}, fmt.Errorf("tokenservice: %w", context.Canceled), "canceled"},
		{"outside the contract", domain.Token{}, errors.New("boom"), "error"},
		{"empty token", domain.Token{}, nil, "bad_response"},
		{"unknown service", domain.Token{}, fmt.Errorf("tokenservice: %w", domain.ErrUnknownService), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{Logger: quiet})
			iss := m.Issuer(issuerFunc(func(context.Context, string) (domain.Token, error) { return tc.tok, tc.err }))
			tok, err := iss.Issue(t.Context(), "kyc")
			if tok != tc.tok || err != tc.err {
				t.Fatal("the decorator changed the result")
			}
			var total float64
			for o := range outcome(numOutcomes) {
				n := mustValue(t, m, "jwtcache_token_service_requests_total", "outcome", o.String())
				h := mustValue(t, m, "jwtcache_token_service_request_duration_seconds", "outcome", o.String())
				if n != h {
					t.Errorf("outcome %s: %v requests but %v observations", o, n, h)
				}
				total += n
			}
			if tc.outcome == "" {
				if total != 0 {
					t.Fatalf("counted %v requests, want none", total)
				}
				return
			}
			if total != 1 || mustValue(t, m, "jwtcache_token_service_requests_total", "outcome", tc.outcome) != 1 {
				t.Fatalf("want one request with outcome %s, counted %v in all", tc.outcome, total)
			}
		})
	}
}

// failingStore fails every operation with err.
type failingStore struct{ err error }

func (f failingStore) Get(context.Context, string) (domain.Token, error) {
	return domain.Token{}, f.err
}
func (f failingStore) Put(context.Context, string, domain.Token) error { return f.err }
func (f failingStore) Delete(context.Context, string) (bool, error)    { return false, f.err }
func (f failingStore) List(context.Context) ([]ports.Entry, error)     { return nil, f.err }
func (f failingStore) Ping(context.Context) error                      { return f.err }
func (f failingStore) TryLock(context.Context, string, time.Duration) (ports.Unlock, error) {
	return nil, f.err
}
func (f failingStore) Held(context.Context, []string) ([]bool, error) { return nil, f.err }

func TestStoreErrorsByOperation(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		err   error
		count float64
	}{
		{"failure", errors.New("redisstore: i/o timeout"), 1},
		{"not found", fmt.Errorf("redisstore: %w", domain.ErrNotFound), 0},
		{"caller gave up", fmt.Errorf("redisstore: %w", context.Canceled), 0},
		{"deadline", fmt.Errorf("redisstore: %w", context.DeadlineExceeded), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := New(Options{Logger: quiet})
			f := failingStore{tc.err}
			s, l := m.Store(f), m.Locker(f)
			_, _ = s.Get(ctx, "kyc")
			_ = s.Put(ctx, "kyc", domain.Token{})
			_, _ = s.Delete(ctx, "kyc")
			_, _ = s.List(ctx)
			if err := m.Pinger(f).Ping(ctx); err != tc.err {
				t.Fatalf("Ping = %v, want the store's error", err)
			}
			_, _ = l.TryLock(ctx, "kyc", time.Second)
			_, _ = l.Held(ctx, []string{"kyc"})
			for op := range operation(numOperations) {
				want := tc.count
				if op == opUnlock {
					want = 0
				}
				if got := mustValue(t, m, "jwtcache_store_errors_total", "operation", op.String()); got != want {
					t.Errorf("%s errors = %v, want %v", op, got, want)
				}
			}
		})
	}
}

// TestStoreDecoratorIsOnlyAStore: the decorated store pretends to no
// capability; the core gets the pinger, locker and feed in fields of their
// own, so a store that cannot be pinged is never reported as pinged.
func TestStoreDecoratorIsOnlyAStore(t *testing.T) {
	s := New(Options{Logger: quiet}).Store(memory.New(nil))
	if _, ok := s.(ports.Pinger); ok {
		t.Error("the decorated store is a Pinger")
	}
	if _, ok := s.(ports.RenewalLocker); ok {
		t.Error("the decorated store is a RenewalLocker")
	}
	if _, ok := s.(ports.ChangeFeed); ok {
		t.Error("the decorated store is a ChangeFeed")
	}
}

type failingUnlock struct{ *memory.Store }

func (f failingUnlock) TryLock(ctx context.Context, service string, ttl time.Duration) (ports.Unlock, error) {
	if _, err := f.Store.TryLock(ctx, service, ttl); err != nil {
		return nil, err
	}
	return func(context.Context) error { return errors.New("redisstore: unlock: connection reset") }, nil
}

func TestLockerCounts(t *testing.T) {
	ctx := t.Context()
	m := New(Options{Logger: quiet})
	st := memory.New(nil)
	l := m.Locker(st)
	unlock, err := l.TryLock(ctx, "kyc", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.TryLock(ctx, "kyc", time.Minute); !errors.Is(err, domain.ErrLockHeld) {
			t.Fatalf("second TryLock: %v", err)
		}
	}
	if err := unlock(ctx); err != nil {
		t.Fatal(err)
	}
	if held, _ := st.Held(ctx, []string{"kyc"}); held[0] {
		t.Fatal("the decorated Unlock did not release the lock")
	}
	if a, c := mustValue(t, m, "jwtcache_lock_acquired_total"), mustValue(t, m, "jwtcache_lock_contended_total"); a != 1 || c != 3 {
		t.Fatalf("acquired %v contended %v, want 1 and 3", a, c)
	}

	unlock, err = m.Locker(failingUnlock{memory.New(nil)}).TryLock(ctx, "kyc", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := unlock(ctx); err == nil {
		t.Fatal("the unlock error was swallowed")
	}
	if n := mustValue(t, m, "jwtcache_store_errors_total", "operation", "unlock"); n != 1 {
		t.Fatalf("unlock errors = %v", n)
	}
}

// TestDecoratorsAllocateNothing: the decorators add no allocation to what
// the decorated adapter does, on success and on the routine failures (not
// found, lock held).
func TestDecoratorsAllocateNothing(t *testing.T) {
	ctx := context.Background()
	m := New(Options{Logger: quiet})
	tok := validToken(time.Now(), 1)
	bare := issuerFunc(func(context.Context, string) (domain.Token, error) { return tok, nil })
	iss := m.Issuer(bare)
	st := memory.New(nil)
	if err := st.Put(ctx, "kyc", tok); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.TryLock(ctx, "held", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock(ctx)
	s, l := m.Store(st), m.Locker(st)
	for _, tc := range []struct {
		name            string
		bare, decorated func()
	}{
		{"issue", func() { _, _ = bare.Issue(ctx, "kyc") }, func() { _, _ = iss.Issue(ctx, "kyc") }},
		{"get", func() { _, _ = st.Get(ctx, "kyc") }, func() { _, _ = s.Get(ctx, "kyc") }},
		{"get not found", func() { _, _ = st.Get(ctx, "nothing") }, func() { _, _ = s.Get(ctx, "nothing") }},
		{"put", func() { _ = st.Put(ctx, "kyc", tok) }, func() { _ = s.Put(ctx, "kyc", tok) }},
		{"trylock contended", func() { _, _ = st.TryLock(ctx, "held", time.Hour) }, func() { _, _ = l.TryLock(ctx, "held", time.Hour) }},
	} {
		if b, d := testing.AllocsPerRun(1000, tc.bare), testing.AllocsPerRun(1000, tc.decorated); d > b {
			t.Errorf("%s: %v allocations decorated, %v bare", tc.name, d, b)
		}
	}
}

// countingIssuer hands out a new valid token per call and counts them.
type countingIssuer struct{ calls atomic.Int64 }

func (c *countingIssuer) Issue(context.Context, string) (domain.Token, error) {
	return validToken(time.Now(), c.calls.Add(1)), nil
}

type fakeAuth struct{ failures, forbidden uint64 }

func (f fakeAuth) Failures() uint64  { return f.failures }
func (f fakeAuth) Forbidden() uint64 { return f.forbidden }

// newCore is the core over the memory store, wrapped by m as the
// composition root wraps it.
func newCore(t *testing.T, m *Metrics, iss ports.TokenIssuer, st *memory.Store) *app.Cache {
	t.Helper()
	svc, err := app.New(app.Options{Issuer: m.Issuer(iss), Store: m.Store(st), Locker: m.Locker(st), Feed: st, Pinger: m.Pinger(st), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// TestHitsTouchNoPort: with the decorators in place, a cache hit still
// allocates nothing and reaches neither the issuer, the store nor the
// locker.
func TestHitsTouchNoPort(t *testing.T) {
	m := New(Options{Logger: quiet})
	iss := &countingIssuer{}
	st := memory.New(nil)
	svc := newCore(t, m, iss, st)
	ctx := context.Background()
	if _, err := svc.BearerToken(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	locks := mustValue(t, m, "jwtcache_lock_acquired_total")
	if n := testing.AllocsPerRun(1000, func() { _, _ = svc.BearerToken(ctx, "kyc") }); n != 0 {
		t.Errorf("a hit allocates %v times", n)
	}
	if iss.calls.Load() != 1 || mustValue(t, m, "jwtcache_lock_acquired_total") != locks {
		t.Fatalf("hits reached the issuer (%d calls) or the locker", iss.calls.Load())
	}
}

func TestScrape(t *testing.T) {
	m := New(Options{Logger: quiet, Version: "v1.2.3"})
	iss := &countingIssuer{}
	st := memory.New(nil)
	svc := newCore(t, m, iss, st)
	ctx := t.Context()
	for range 3 {
		if _, err := svc.Token(ctx, "kyc"); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 { // the second within the refresh floor: reused
		if _, err := svc.Refresh(ctx, "data-processor"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := svc.Token(ctx, "ledger"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Evict(ctx, "ledger"); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveCache(svc); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveCache(svc); err == nil {
		t.Fatal("a second ObserveCache succeeded")
	}
	if err := m.ObserveAuth(fakeAuth{failures: 4, forbidden: 2}); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveAuth(fakeAuth{}); err == nil {
		t.Fatal("a second ObserveAuth succeeded")
	}

	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jwtcache_cache_hits_total", nil, 2},
		{"jwtcache_cache_misses_total", nil, 2},
		{"jwtcache_forced_refreshes_total", nil, 2},
		{"jwtcache_reused_refreshes_total", nil, 1},
		{"jwtcache_requests_refused_total", []string{"reason", "too_many_services"}, 0},
		{"jwtcache_requests_refused_total", []string{"reason", "rate_limited"}, 0},
		{"jwtcache_evictions_total", nil, 1},
		{"jwtcache_store_write_failures_total", nil, 0},
		{"jwtcache_renewals_total", nil, 0},
		{"jwtcache_renewal_failures_total", nil, 0},
		{"jwtcache_tokens", []string{"state", "active"}, 2},
		{"jwtcache_tokens", []string{"state", "expired"}, 0},
		{"jwtcache_tokens_renewing", nil, 0},
		{"jwtcache_token_service_requests_total", []string{"outcome", "ok"}, 3},
		{"jwtcache_lock_acquired_total", nil, 3},
		{"jwtcache_api_auth_failures_total", []string{"reason", "unauthorized"}, 4},
		{"jwtcache_api_auth_failures_total", []string{"reason", "forbidden"}, 2},
		{"jwtcache_build_info", []string{"version", "v1.2.3", "goversion", runtime.Version()}, 1},
	} {
		if got := mustValue(t, m, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	for _, svcName := range []string{"kyc", "data-processor"} {
		if v := mustValue(t, m, "jwtcache_token_seconds_until_expiry", "service", svcName); v < 3500 || v > 3600 {
			t.Errorf("%s expires in %v s, want about an hour", svcName, v)
		}
	}
	if _, ok := value(t, m, "jwtcache_token_seconds_until_expiry", "service", "ledger"); ok {
		t.Error("an evicted service still has an expiry series")
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := value(t, m, name); !ok {
			t.Errorf("no %s: the Go and process collectors are missing", name)
		}
	}

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") ||
		!strings.Contains(string(body), `jwtcache_token_seconds_until_expiry{service="kyc"}`) ||
		!strings.Contains(string(body), "# TYPE jwtcache_cache_hits_total counter") {
		t.Fatalf("GET /metrics: %d %q\n%s", rec.Code, rec.Header().Get("Content-Type"), body)
	}
	if strings.Contains(string(body), "tok-") {
		t.Fatal("the metrics show a token")
	}
}

// TestMetricNamesLint: every jwtcache metric passes promlint, the
// Prometheus project's own naming checks.
func TestMetricNamesLint(t *testing.T) {
	m := New(Options{Logger: quiet, Version: "dev"})
	svc := newCore(t, m, &countingIssuer{}, memory.New(nil))
	if _, err := svc.Token(t.Context(), "kyc"); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveCache(svc); err != nil {
		t.Fatal(err)
	}
	if err := m.ObserveAuth(fakeAuth{}); err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("/api/v1/jwt/token/:serviceName", "GET", 200, time.Millisecond)
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var ours []*dto.MetricFamily
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), namespace+"_") {
			ours = append(ours, mf)
		}
	}
	if len(ours) < 17 {
		t.Fatalf("only %d jwtcache metric families", len(ours))
	}
	problems, err := promlint.NewWithMetricFamilies(ours).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// brokenCache fails to read the store.
type brokenCache struct{}

func (brokenCache) Counters() app.Counters {
	return app.Counters{CacheHits: 7, CacheMisses: 1, StoreWriteFailures: 3}
}

// Statuses answers as the core does when the store cannot be read: the
// near cache's tokens, marked partial.
func (brokenCache) Statuses(context.Context) (app.Statuses, error) {
	return app.Statuses{StoreError: "redisstore: list: connection refused",
		Tokens: []app.TokenStatus{{Service: "kyc", Exists: true}}}, nil
}

// TestScrapeWithStoreDown: an unreadable store costs the cache's metrics
// for that scrape, not the whole scrape.
func TestScrapeWithStoreDown(t *testing.T) {
	logs := &strings.Builder{}
	m := New(Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err := m.ObserveCache(brokenCache{}); err != nil {
		t.Fatal(err)
	}
	// The handler counts a failed gathering after serving it: the second
	// scrape shows the first one's failure.
	var rec *httptest.ResponseRecorder
	for range 2 {
		rec = httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	}
	body := rec.Body.String()
	// The counters read no store and stay; the token gauges need the store.
	if rec.Code != 200 || !strings.Contains(body, "jwtcache_lock_acquired_total 0") ||
		!strings.Contains(body, "jwtcache_cache_hits_total 7") || !strings.Contains(body, "jwtcache_store_write_failures_total 3") ||
		strings.Contains(body, "jwtcache_tokens{") {
		t.Fatalf("scrape with the store down: %d\n%s", rec.Code, body)
	}
	if !strings.Contains(body, `promhttp_metric_handler_errors_total{cause="gathering"} 1`) ||
		!strings.Contains(logs.String(), "scrape incomplete") {
		t.Fatalf("the failure is neither counted nor logged:\n%s\n%s", body, logs)
	}
}

// limitsCache is a Cache whose counters show the limits at work.
type limitsCache struct{}

func (limitsCache) Counters() app.Counters {
	return app.Counters{ServiceLimitRefusals: 19000, RateLimitRefusals: 42, ReusedRefreshes: 99}
}

func (limitsCache) Statuses(context.Context) (app.Statuses, error) { return app.Statuses{}, nil }

func TestLimitRefusalsAreCounted(t *testing.T) {
	m := New(Options{Logger: quiet})
	if err := m.ObserveCache(limitsCache{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"jwtcache_requests_refused_total", []string{"reason", "too_many_services"}, 19000},
		{"jwtcache_requests_refused_total", []string{"reason", "rate_limited"}, 42},
		{"jwtcache_reused_refreshes_total", nil, 99},
	} {
		if got := mustValue(t, m, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
}

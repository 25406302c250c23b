package rest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/metrics"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
)

// benchService answers Token with a fixed token and a precomputed status,
// so that the benchmark measures the adapter, not the fake.
type benchService struct {
	fakeService
	tok domain.Token
	st  app.TokenStatus
}

func (s *benchService) Token(context.Context, string) (domain.Token, error) { return s.tok, nil }

func (s *benchService) Describe(string, domain.Token) app.TokenStatus { return s.st }

func newBenchService() *benchService {
	tok := guideToken()
	return &benchService{tok: tok, st: describe("kyc", tok)}
}

// benchWriter is a ResponseWriter that keeps nothing, so that neither
// benchmark pays for a recorder.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

func (w *benchWriter) WriteHeader(status int) { w.status = status }

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

func runHandlerBench(b *testing.B, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, "/api/v1/jwt/token/kyc", nil)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
	}
	if w.status != http.StatusOK || w.n == 0 {
		b.Fatalf("status %d, %d bytes", w.status, w.n)
	}
}

// tokenHitHandler is the REST handler as served, with logging off.
func tokenHitHandler() http.Handler {
	return NewHandler(newBenchService(), Options{Logger: discardLogger, Clock: fixedClock{testNow}})
}

// BenchmarkTokenHit is GET /token/:serviceName on a cache hit through the
// whole handler: middleware, routing, encoding.
func BenchmarkTokenHit(b *testing.B) {
	runHandlerBench(b, tokenHitHandler())
}

// BenchmarkTokenHitMetrics is BenchmarkTokenHit with the request metrics
// the server counts (adapters/metrics as the Observer), as jwtcache serves.
func BenchmarkTokenHitMetrics(b *testing.B) {
	m := metrics.New(metrics.Options{Logger: discardLogger})
	runHandlerBench(b, NewHandler(newBenchService(), Options{Logger: discardLogger, Clock: fixedClock{testNow}, Observer: m}))
}

// BenchmarkBareGinSameBytes is the floor for BenchmarkTokenHit: a bare gin
// route writing the very bytes the token endpoint writes.
func BenchmarkBareGinSameBytes(b *testing.B) {
	rec := httptest.NewRecorder()
	tokenHitHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/v1/jwt/token/kyc", nil))
	body := rec.Body.Bytes()

	e := gin.New()
	e.GET("/api/v1/jwt/token/:serviceName", func(c *gin.Context) {
		c.Data(http.StatusOK, "application/json; charset=utf-8", body)
	})
	runHandlerBench(b, e)
}

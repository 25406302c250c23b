package embedded_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/app/embedded"
)

// TestTracerProviderReachesTheAdapters: Options.TracerProvider traces the
// token requests of an embedded cache (sending traceparent) and its Redis
// commands under a caller's span.
func TestTracerProviderReachesTheAdapters(t *testing.T) {
	addr := redistest.RequireShared(t)
	var mu sync.Mutex
	var traceparents []string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		traceparents = append(traceparents, r.Header.Get("traceparent"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"tok","token_type":"Bearer","expires_in":3600}`))
	}))
	t.Cleanup(ts.Close)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	cfg := load(t, "JWT_TOKEN_SERVICE_URL="+ts.URL+"/oauth/token", "CACHE_TYPE=redis", "REDIS_ADDRS="+addr, "REDIS_KEY_PREFIX="+redistest.Prefix())
	cache, err := embedded.New(cfg, embedded.Options{Logger: quiet, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cache.Close() })

	ctx, parent := tp.Tracer("test").Start(context.Background(), "caller")
	if _, err := cache.Token(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	if _, err := cache.Status(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	parent.End()

	var issued, commands int
	for _, s := range rec.Ended() {
		switch {
		case s.Name() == "POST /oauth/token":
			issued++
			mu.Lock()
			got := traceparents[len(traceparents)-1]
			mu.Unlock()
			if want := "00-" + s.SpanContext().TraceID().String() + "-" + s.SpanContext().SpanID().String() + "-01"; got != want {
				t.Errorf("token service got traceparent %q, want %q", got, want)
			}
		case s.Parent().SpanID() == parent.SpanContext().SpanID():
			commands++
		}
	}
	if issued != 1 || commands == 0 {
		t.Fatalf("%d token-request spans (want 1), %d Redis command spans under the caller (want some)", issued, commands)
	}
}

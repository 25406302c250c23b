package rest

import (
	"context"
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/domain"
)

// newRecorder is a tracer provider keeping every ended span in memory.
func newRecorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// A caller's traceparent, as the W3C Trace Context spec's example.
const (
	callerTraceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	callerTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	callerSpanID      = "00f067aa0ba902b7"
)

func TestTracingOneServerSpanPerRequest(t *testing.T) {
	tp, spans := newRecorder(t)
	var coreSaw trace.SpanContext
	svc := &fakeService{token: func(ctx context.Context, _ string) (domain.Token, error) {
		coreSaw = trace.SpanContextFromContext(ctx)
		return guideToken(), nil
	}}
	h := NewHandler(svc, Options{Logger: discardLogger, Clock: fixedClock{testNow}, TracerProvider: tp})

	if rec := request(h, "GET", "/api/v1/jwt/token/kyc", "traceparent", callerTraceparent); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	if s.Name() != "GET /api/v1/jwt/token/:serviceName" || s.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q of kind %v", s.Name(), s.SpanKind())
	}
	// It continues the caller's trace, and the core ran inside it.
	if s.SpanContext().TraceID().String() != callerTraceID || s.Parent().SpanID().String() != callerSpanID || !s.Parent().IsRemote() {
		t.Errorf("span %v, parent %v: not the caller's trace", s.SpanContext(), s.Parent())
	}
	if coreSaw.SpanID() != s.SpanContext().SpanID() {
		t.Errorf("the core was called with span %v, not the request's %v", coreSaw.SpanID(), s.SpanContext().SpanID())
	}
	for key, want := range map[attribute.Key]attribute.Value{
		"http.route":                attribute.StringValue("/api/v1/jwt/token/:serviceName"),
		"http.request.method":       attribute.StringValue("GET"),
		"http.response.status_code": attribute.IntValue(200),
		"url.path":                  attribute.StringValue("/api/v1/jwt/token/kyc"),
		"jwtcache.service_name":     attribute.StringValue("kyc"),
	} {
		if got, ok := attr(s, key); !ok || got != want {
			t.Errorf("%s = %v, want %v", key, got.String(), want.String())
		}
	}
	if s.Status().Code == codes.Error {
		t.Errorf("a 200 is an error: %v", s.Status())
	}
	for _, kv := range s.Attributes() {
		if kv.Value.String() == secretToken {
			t.Fatalf("the span carries the token in %s", kv.Key)
		}
	}
}

func TestTracingStatusesAndUnknownRoutes(t *testing.T) {
	tp, spans := newRecorder(t)
	h := NewHandler(&fakeService{panics: "boom"}, Options{Logger: discardLogger, Clock: fixedClock{testNow}, TracerProvider: tp})
	for _, tc := range []struct {
		method, path string
		status       int
		name         string
		err          bool
	}{
		{"GET", "/api/v1/jwt/health", 500, "GET /api/v1/jwt/health", true},
		{"GET", "/api/v1/jwt/token/Bad_Name", 500, "GET /api/v1/jwt/token/:serviceName", true}, // the fake panics first
		{"GET", "/no/such/path", 404, "GET", false},
		{"BREW", "/api/v1/jwt/health", 405, "HTTP", false},
	} {
		before := len(spans.Ended())
		if rec := request(h, tc.method, tc.path); rec.Code != tc.status {
			t.Fatalf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.status)
		}
		ended := spans.Ended()
		if len(ended) != before+1 {
			t.Fatalf("%s %s: %d spans, want 1", tc.method, tc.path, len(ended)-before)
		}
		s := ended[len(ended)-1]
		if s.Name() != tc.name || (s.Status().Code == codes.Error) != tc.err {
			t.Errorf("%s %s: span %q status %v, want %q error %v", tc.method, tc.path, s.Name(), s.Status(), tc.name, tc.err)
		}
		if code, _ := attr(s, "http.response.status_code"); code.AsInt64() != int64(tc.status) {
			t.Errorf("%s %s: status attribute %v", tc.method, tc.path, code.String())
		}
		if _, ok := attr(s, "http.route"); ok == (tc.status == 404 || tc.status == 405) {
			t.Errorf("%s %s: http.route present = %v", tc.method, tc.path, ok)
		}
	}
}

// TestNoTracingWithoutProvider: without a provider nothing reads the
// caller's traceparent and the core's context carries no span.
func TestNoTracingWithoutProvider(t *testing.T) {
	var coreSaw trace.SpanContext
	svc := &fakeService{token: func(ctx context.Context, _ string) (domain.Token, error) {
		coreSaw = trace.SpanContextFromContext(ctx)
		return guideToken(), nil
	}}
	h := NewHandler(svc, Options{Logger: discardLogger, Clock: fixedClock{testNow}})
	if rec := request(h, http.MethodGet, "/api/v1/jwt/token/kyc", "traceparent", callerTraceparent); rec.Code != 200 {
		t.Fatalf("status %d", rec.Code)
	}
	if coreSaw.IsValid() {
		t.Fatalf("the core got a span context without tracing: %v", coreSaw)
	}
}

package tokenservice_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/adapters/tokenservice"
	"github.com/jwtcache/jwtcache/domain"
)

func newRecorder(t *testing.T) (*sdktrace.TracerProvider, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp, rec
}

// headerLog is a token endpoint that answers a token and keeps the
// traceparent header of each request ("" when none came).
type headerLog struct {
	mu      sync.Mutex
	parents []string
}

func (h *headerLog) handler(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.parents = append(h.parents, r.Header.Get("traceparent"))
		h.mu.Unlock()
		next(w, r)
	}
}

func (h *headerLog) last(t *testing.T) string {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.parents) == 0 {
		t.Fatal("the token service got no request")
	}
	return h.parents[len(h.parents)-1]
}

const okBody = `{"access_token":"` + accessToken + `","token_type":"Bearer","expires_in":3600}`

func spanAttr(s sdktrace.ReadOnlySpan, key attribute.Key) attribute.Value {
	for _, kv := range s.Attributes() {
		if kv.Key == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// traceparentOf is the traceparent header that carries sc.
func traceparentOf(sc trace.SpanContext) string {
	return "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
}

// TestTracingChildSpanAndTraceparent: a token request made inside a span
// is a client span under it, and the token service is told that span.
func TestTracingChildSpanAndTraceparent(t *testing.T) {
	tp, spans := newRecorder(t)
	got := &headerLog{}
	srv := serve(t, got.handler(answer(200, okBody)))
	iss := newIssuer(t, srv.URL+"/oauth/token", func(o *tokenservice.Options) { o.TracerProvider = tp })

	ctx, parent := tp.Tracer("test").Start(context.Background(), "GET /api/v1/jwt/token/:serviceName")
	if _, err := iss.Issue(ctx, service); err != nil {
		t.Fatal(err)
	}
	parent.End()
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want the request's and the parent", len(ended))
	}
	s := ended[0]
	if s.Name() != "POST /oauth/token" || s.SpanKind() != trace.SpanKindClient {
		t.Errorf("span %q of kind %v", s.Name(), s.SpanKind())
	}
	if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("span %v is not a child of %v", s.SpanContext(), parent.SpanContext())
	}
	if tp := got.last(t); tp != traceparentOf(s.SpanContext()) {
		t.Errorf("traceparent %q, want %q", tp, traceparentOf(s.SpanContext()))
	}
	for key, want := range map[attribute.Key]attribute.Value{
		"jwtcache.service_name":     attribute.StringValue(service),
		"http.request.method":       attribute.StringValue("POST"),
		"http.response.status_code": attribute.IntValue(200),
		"url.full":                  attribute.StringValue(srv.URL + "/oauth/token"),
		"server.address":            attribute.StringValue("127.0.0.1"),
	} {
		if got := spanAttr(s, key); got != want {
			t.Errorf("%s = %v, want %v", key, got.String(), want.String())
		}
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status %v", s.Status())
	}
}

// TestTracingRootSpanWithoutParent: a renewal runs on a context with no
// span, so its token request starts a trace of its own.
func TestTracingRootSpanWithoutParent(t *testing.T) {
	tp, spans := newRecorder(t)
	got := &headerLog{}
	srv := serve(t, got.handler(answer(200, okBody)))
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) { o.TracerProvider = tp })
	for range 2 {
		if _, err := iss.Issue(context.Background(), service); err != nil {
			t.Fatal(err)
		}
	}
	ended := spans.Ended()
	if len(ended) != 2 {
		t.Fatalf("%d spans, want 2", len(ended))
	}
	for _, s := range ended {
		if s.Parent().IsValid() || s.Name() != "POST /" {
			t.Errorf("span %q has parent %v; want a root span", s.Name(), s.Parent())
		}
	}
	if ended[0].SpanContext().TraceID() == ended[1].SpanContext().TraceID() {
		t.Error("two renewals share a trace")
	}
	if tp := got.last(t); tp != traceparentOf(ended[1].SpanContext()) {
		t.Errorf("traceparent %q, want %q", tp, traceparentOf(ended[1].SpanContext()))
	}
}

// TestTracingFailures: a failed request is an error span saying what
// kind of failure, without the credentials the server echoed; answers
// from the negative cache and refused service names make no request and
// no span.
func TestTracingFailures(t *testing.T) {
	tp, spans := newRecorder(t)
	srv := serve(t, answer(401, `{"error":"invalid_client","error_description":"bad secret `+secret+`"}`))
	iss := newIssuer(t, srv.URL, func(o *tokenservice.Options) {
		o.TracerProvider = tp
		o.Strict = true
		o.Services = map[string]tokenservice.ClientOptions{service: {}}
	})
	if _, err := iss.Issue(context.Background(), service); err == nil {
		t.Fatal("no error")
	}
	ended := spans.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans, want 1", len(ended))
	}
	s := ended[0]
	if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "invalid_client") {
		t.Errorf("status %v", s.Status())
	}
	if got := spanAttr(s, "error.type"); got.AsString() != "rejected" {
		t.Errorf("error.type = %v", got.String())
	}
	if got := spanAttr(s, "http.response.status_code"); got.AsInt64() != 401 {
		t.Errorf("status code = %v", got.String())
	}
	if strings.Contains(s.Status().Description, secret) {
		t.Fatalf("the span shows the client secret: %q", s.Status().Description)
	}

	_, err := iss.Issue(context.Background(), service)
	if !errors.Is(err, tokenservice.ErrCachedRejection) {
		t.Fatalf("second call: %v, want the cached rejection", err)
	}
	if _, err := iss.Issue(context.Background(), "not-configured"); !errors.Is(err, domain.ErrUnknownService) {
		t.Fatalf("unknown service: %v", err)
	}
	if n := len(spans.Ended()); n != 1 {
		t.Errorf("%d spans after two calls that made no request, want 1", n)
	}
}

// TestNoTracingWithoutProvider: without a provider no trace header is
// sent, even when the caller's context carries a span.
func TestNoTracingWithoutProvider(t *testing.T) {
	tp, _ := newRecorder(t)
	got := &headerLog{}
	srv := serve(t, got.handler(answer(200, okBody)))
	iss := newIssuer(t, srv.URL)
	ctx, span := tp.Tracer("test").Start(context.Background(), "caller")
	defer span.End()
	if _, err := iss.Issue(ctx, service); err != nil {
		t.Fatal(err)
	}
	if tp := got.last(t); tp != "" {
		t.Fatalf("traceparent %q sent without tracing", tp)
	}
}

package tokenservice

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/internal/redact"
)

// instrumentationName names the tracer of this package.
const instrumentationName = "github.com/jwtcache/jwtcache/adapters/tokenservice"

// attrService is the span attribute holding the service name a token is
// for (the REST adapter's server spans use the same key).
const attrService = attribute.Key("jwtcache.service_name")

// propagator writes the W3C traceparent (and tracestate, baggage) of the
// token request's span into its headers, so that the token service's own
// traces join jwtcache's.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// spanStart is the name and attributes of the spans of c's token
// requests, fixed in newClient: "POST /oauth/token" (the method and the
// endpoint's path, one per configured client, which OpenTelemetry's HTTP
// client conventions allow as a URL template), the endpoint and its
// server.
func (c *client) spanStart() (name string, attrs []attribute.KeyValue) {
	u, err := url.Parse(c.endpoint)
	if err != nil { // checked in newClient
		return http.MethodPost, nil
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	attrs = []attribute.KeyValue{
		semconv.HTTPRequestMethodPost,
		semconv.URLFull(redact.URL(c.endpoint)), // no query: it may hold a secret
		semconv.URLTemplate(path),
		semconv.ServerAddress(u.Hostname()),
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return http.MethodPost + " " + path, attrs
}

// startSpan starts the client span of one token request for service, a
// child of ctx's span if any: a background renewal's context carries none,
// so its span starts a trace of its own. Without a tracer it returns ctx
// and a nil span.
func (i *Issuer) startSpan(ctx context.Context, c *client, service string) (context.Context, trace.Span) {
	if i.tracer == nil {
		return ctx, nil
	}
	ctx, span := i.tracer.Start(ctx, c.spanName, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(c.spanAttrs...), trace.WithAttributes(attrService.String(service)))
	return ctx, span
}

// inject sends span's trace context with req.
func inject(span trace.Span, req *http.Request) {
	if span == nil {
		return
	}
	propagator.Inject(req.Context(), propagation.HeaderCarrier(req.Header))
}

// answered records the token service's HTTP status on span.
func answered(span trace.Span, status int) {
	if span != nil {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
}

// endSpan ends span with the request's outcome: err, already stripped of
// credentials by client.finish, is its status message, and error.type is
// the kind of failure as the metrics name it.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func errorType(err error) string {
	var tse *domain.TokenServiceError
	var ne net.Error
	switch {
	case errors.As(err, &tse):
		switch tse.Kind {
		case domain.Rejected:
			return "rejected"
		case domain.Timeout:
			return "timeout"
		case domain.Unreachable:
			return "unreachable"
		default:
			return "bad_response"
		}
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &ne) && ne.Timeout(), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		return semconv.ErrorTypeOther.Value.AsString()
	}
}

package rest

import (
	"net/http"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

// instrumentationName names the tracer of this package.
const instrumentationName = "github.com/jwtcache/jwtcache/adapters/rest"

// attrService is the span attribute holding the service name a request
// names (the tokenservice adapter's spans use the same key).
const attrService = attribute.Key("jwtcache.service_name")

// propagator reads the caller's W3C trace context (traceparent,
// tracestate) and baggage, so that a request's span continues the
// caller's trace.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// traceRequests starts one server span per request, named after the route
// template ("GET /api/v1/jwt/token/:serviceName"; the method alone for
// unknown routes, as OpenTelemetry's HTTP conventions say), and puts it in
// the request's context, where the core, the store and the logs find it.
// It runs first, so that the panic log and the request log carry the
// span.
func traceRequests(tp trace.TracerProvider) gin.HandlerFunc {
	tracer := tp.Tracer(instrumentationName)
	return func(c *gin.Context) {
		req := c.Request
		route := c.FullPath()
		method, known := spanMethod(req.Method)
		name := method
		if !known {
			name = "HTTP"
		}
		if route != "" {
			name += " " + route
		}
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(method),
			semconv.URLPath(req.URL.Path),
			semconv.URLScheme(scheme(req)),
		}
		if route != "" {
			attrs = append(attrs, semconv.HTTPRoute(route))
		}
		if name := c.Param(paramService); name != "" {
			attrs = append(attrs, attrService.String(restapi.Clip(name)))
		}
		ctx := propagator.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		c.Request = req.WithContext(ctx)

		c.Next()

		status := c.Writer.Status()
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		// Server spans are errors for 5xx only: a 4xx is the client's.
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
	}
}

// spanMethod is the method as OpenTelemetry records it: the standard ones
// as they are, any other as _OTHER (known false).
func spanMethod(m string) (method string, known bool) {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodConnect, http.MethodOptions, http.MethodTrace:
		return m, true
	}
	return "_OTHER", false
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
)

// tracingFlushTimeout bounds the export of the spans still buffered when
// jwtcache stops, inside the whole stop's bound: a collector that does not
// answer costs those spans, not a clean exit.
const tracingFlushTimeout = 5 * time.Second

// The OTEL_* variables jwtcache itself reads, to decide whether to trace
// and to refuse what it cannot do; the SDK and the exporter read these and
// the others (headers, timeout, compression, TLS files, sampler, batch
// sizes, resource attributes) themselves.
const (
	envSDKDisabled     = "OTEL_SDK_DISABLED"
	envTracesExporter  = "OTEL_TRACES_EXPORTER"
	envEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	envTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	envProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	envTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	defaultServiceName = "jwtcache"
)

// tracingWanted reports whether the environment (getenv) asks for traces:
// an OTLP endpoint is set, and neither OTEL_SDK_DISABLED=true nor
// OTEL_TRACES_EXPORTER=none turns them off. Settings jwtcache cannot honour
// (another exporter or protocol, an endpoint that is not an http or https
// URL) are an error naming the variable; the SDK would only log them and
// send nothing.
func tracingWanted(getenv func(string) string) (bool, error) {
	if strings.EqualFold(strings.TrimSpace(getenv(envSDKDisabled)), "true") {
		return false, nil
	}
	switch v := strings.TrimSpace(getenv(envTracesExporter)); v {
	case "", "otlp":
	case "none":
		return false, nil
	default:
		return false, fmt.Errorf("%s: %q is not supported: jwtcache exports traces with otlp, or none", envTracesExporter, v)
	}
	var errs []error
	for _, name := range []string{envEndpoint, envTracesEndpoint} {
		v := strings.TrimSpace(getenv(name))
		if v == "" {
			continue
		}
		// The value is not repeated: it may hold credentials.
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: not an absolute http or https URL (e.g. http://otel-collector:4318)", name))
		}
	}
	for _, name := range []string{envProtocol, envTracesProtocol} {
		switch v := strings.TrimSpace(getenv(name)); v {
		case "", "http/protobuf", "http/json":
		default:
			errs = append(errs, fmt.Errorf("%s: %q is not supported: jwtcache sends traces over OTLP/HTTP (http/protobuf or http/json)", name, v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return false, err
	}
	return getenv(envEndpoint) != "" || getenv(envTracesEndpoint) != "", nil
}

// tracingModule provides the trace.TracerProvider the adapters trace
// with: the OpenTelemetry SDK exporting over OTLP/HTTP when the
// environment asks for traces, else nil, which the adapters take as "trace
// nothing": no SDK started, no middleware, no hook.
var tracingModule = fx.Module("tracing", fx.Provide(provideTracerProvider))

func provideTracerProvider(lc fx.Lifecycle, logger *slog.Logger) (trace.TracerProvider, error) {
	on, err := tracingWanted(os.Getenv)
	if err != nil || !on {
		return nil, err
	}
	tp, err := newTracerProvider(context.Background(), logger)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(func(ctx context.Context) { shutdownTracing(ctx, tp, logger) }))
	return tp, nil
}

// newTracerProvider is the SDK's tracer provider with a batching OTLP/HTTP
// exporter, both configured from the OTEL_* environment. The resource
// names the service jwtcache (OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override it) at this version.
func newTracerProvider(ctx context.Context, logger *slog.Logger) (*sdktrace.TracerProvider, error) {
	// The SDK reports failed exports here; they go to the log like the
	// rest, never to the standard logger.
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("tracing: "+err.Error(), "component", "opentelemetry")
	}))
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(defaultServiceName), semconv.ServiceVersion(version)),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost(),
	)
	if err != nil {
		// A detector failed (a malformed OTEL_RESOURCE_ATTRIBUTES entry, say):
		// what was detected is used.
		logger.Warn("tracing: resource incomplete", "err", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	logger.Info("tracing: exporting spans over OTLP/HTTP", "service", serviceName(res))
	return tp, nil
}

func serviceName(res *resource.Resource) string {
	if v, ok := res.Set().Value(semconv.ServiceNameKey); ok {
		return v.AsString()
	}
	return ""
}

// shutdownTracing exports the spans still buffered and stops the provider,
// within ctx and tracingFlushTimeout. A failure is logged, not returned:
// lost spans do not make a stop unclean.
func shutdownTracing(ctx context.Context, tp *sdktrace.TracerProvider, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, tracingFlushTimeout)
	defer cancel()
	if err := tp.Shutdown(ctx); err != nil {
		logger.Warn("tracing: spans not flushed at shutdown", "err", err)
	}
}

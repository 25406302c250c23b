package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/extra/redisotel/v9"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// instrument adds go-redis's own OpenTelemetry tracing to client: one
// client span per command or pipeline, and per dial, named after the
// command ("get", "evalsha", "redis.pipeline get get"), under the span of
// the context the command runs with.
//
// Only commands run inside a span are traced: a command with no span in
// its context is the core's own background work (the renewal check, the
// cleanup, the change feed, the shared fetch that runs apart from the
// callers waiting for it), and a one-span trace per such command would
// bury the traces that answer a question. The arguments of the commands
// are never recorded (db.statement off): they hold the token values.
func instrument(client redis.UniversalClient, tp trace.TracerProvider) error {
	err := redisotel.InstrumentTracing(client,
		redisotel.WithTracerProvider(childSpans{tp: tp}),
		redisotel.WithDBStatement(false),
		// The caller's file and line would be this package's, in every span.
		redisotel.WithCallerEnabled(false),
	)
	if err != nil {
		return fmt.Errorf("redisstore: tracing: %w", err)
	}
	return nil
}

// childSpans is a TracerProvider whose tracers start a span only under an
// existing one.
type childSpans struct {
	embedded.TracerProvider
	tp trace.TracerProvider
}

func (p childSpans) Tracer(name string, opts ...trace.TracerOption) trace.Tracer {
	return childTracer{t: p.tp.Tracer(name, opts...)}
}

type childTracer struct {
	embedded.Tracer
	t trace.Tracer
}

// Start starts a span when ctx has one to be the parent; otherwise it
// returns ctx with the non-recording span that stands for none.
func (t childTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx)
	}
	return t.t.Start(ctx, name, opts...)
}

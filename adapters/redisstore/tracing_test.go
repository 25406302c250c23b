package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/domain"
)

// TestTracingCommandsUnderTheCallersSpan runs against the real Redis:
// the commands a traced caller runs are client spans under its span,
// without their arguments; commands outside any span are not traced.
func TestTracingCommandsUnderTheCallersSpan(t *testing.T) {
	addr := redistest.RequireShared(t)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s, err := New(Options{Addrs: []string{addr}, KeyPrefix: redistest.Prefix(), Logger: testLogger(t), TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })

	const secretValue = "eyJ-the-token-value-that-must-not-show"
	now := time.Now()
	tok := domain.Token{AccessToken: secretValue, TokenType: "Bearer", IssuedAt: now, ExpiresAt: now.Add(time.Hour)}

	// Background work: no span in the context, no span recorded.
	if err := s.Put(context.Background(), "kyc", tok); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans for commands outside any span", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "GET /api/v1/jwt/status/:serviceName")
	if _, err := s.Get(ctx, "kyc"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(ctx); err != nil {
		t.Fatal(err)
	}
	parent.End()

	// Each span hangs under the caller's, directly or (the handshake of a
	// new connection) under a command span that does.
	callerID := parent.SpanContext().SpanID()
	up := map[trace.SpanID]trace.SpanID{}
	for _, sp := range rec.Ended() {
		up[sp.SpanContext().SpanID()] = sp.Parent().SpanID()
	}
	underCaller := func(id trace.SpanID) bool {
		for range len(up) {
			id = up[id]
			if id == callerID {
				return true
			}
		}
		return false
	}
	var names []string
	for _, sp := range rec.Ended() {
		if sp.SpanContext().SpanID() == callerID {
			continue
		}
		names = append(names, sp.Name())
		if sp.SpanKind() != trace.SpanKindClient || !underCaller(sp.SpanContext().SpanID()) {
			t.Errorf("span %q (kind %v) is not a client span under the caller's", sp.Name(), sp.SpanKind())
		}
		var system bool
		for _, kv := range sp.Attributes() {
			if kv.Key == "db.statement" || kv.Key == "db.query.text" {
				t.Errorf("span %q records the command: %s", sp.Name(), kv.Value.String())
			}
			if strings.Contains(kv.Value.String(), secretValue) {
				t.Fatalf("span %q shows the token in %s", sp.Name(), kv.Key)
			}
			system = system || (kv.Key == "db.system" && kv.Value.AsString() == "redis")
		}
		if !system {
			t.Errorf("span %q lacks db.system=redis", sp.Name())
		}
	}
	joined := strings.Join(names, ",")
	if !strings.Contains(joined, "get") || !strings.Contains(joined, "zrange") {
		t.Fatalf("command spans %v; want the get and the index read", names)
	}
}

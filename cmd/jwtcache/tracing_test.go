package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/adapters/redisstore/redistest"
	"github.com/jwtcache/jwtcache/adapters/rest"
)

// gotSpan is one span as an OTLP receiver got it, ids in hex.
type gotSpan struct {
	traceID, spanID, parentID string
	name                      string
	kind                      tracepb.Span_SpanKind
	attrs                     map[string]string
	service                   string // the resource's service.name
}

// otlpReceiver is an in-process OTLP/HTTP trace receiver: it accepts POST
// /v1/traces with a protobuf ExportTraceServiceRequest, as a collector
// does, and keeps the spans.
type otlpReceiver struct {
	URL string

	mu    sync.Mutex
	spans []gotSpan
}

func startOTLPReceiver(t *testing.T) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" || req.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Errorf("OTLP receiver: %s %s (%s)", req.Method, req.URL.Path, req.Header.Get("Content-Type"))
			http.Error(w, "unexpected", http.StatusNotFound)
			return
		}
		body, err := io.ReadAll(req.Body)
		var export coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &export)
		}
		if err != nil {
			t.Errorf("OTLP receiver: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.add(&export)
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

func (r *otlpReceiver) add(export *coltracepb.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range export.GetResourceSpans() {
		var service string
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				attrs := map[string]string{}
				for _, kv := range s.GetAttributes() {
					v := kv.GetValue()
					switch {
					case v.GetStringValue() != "":
						attrs[kv.GetKey()] = v.GetStringValue()
					default:
						attrs[kv.GetKey()] = strings.Trim(v.String(), " ")
					}
				}
				r.spans = append(r.spans, gotSpan{
					traceID:  hex.EncodeToString(s.GetTraceId()),
					spanID:   hex.EncodeToString(s.GetSpanId()),
					parentID: hex.EncodeToString(s.GetParentSpanId()),
					name:     s.GetName(),
					kind:     s.GetKind(),
					attrs:    attrs,
					service:  service,
				})
			}
		}
	}
}

func (r *otlpReceiver) all() []gotSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]gotSpan(nil), r.spans...)
}

// tracedTokenService is the development token service issuing short-lived
// tokens, keeping the traceparent of each token request in order.
type tracedTokenService struct {
	URL string

	mu           sync.Mutex
	traceparents []string
	calls        atomic.Int64
}

func startTracedTokenService(t *testing.T, lifetime time.Duration) *tracedTokenService {
	t.Helper()
	srv, err := devissuer.New(devissuer.Options{ClientID: opsClientID, ClientSecret: opsSecret, TokenLifetime: lifetime})
	if err != nil {
		t.Fatal(err)
	}
	ts := &tracedTokenService{}
	h := srv.Handler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == devissuer.TokenPath {
			ts.mu.Lock()
			ts.traceparents = append(ts.traceparents, r.Header.Get("traceparent"))
			ts.mu.Unlock()
			defer ts.calls.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	ts.URL = hs.URL + devissuer.TokenPath
	return ts
}

func (ts *tracedTokenService) received() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]string(nil), ts.traceparents...)
}

var traceparentRE = regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)

// TestTracesOverOTLP runs the real binary with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an in-process receiver, on Redis, with JSON debug logs. The
// batch delay is a minute, so every span arrives through the flush at
// shutdown. It checks: a server span per REST request, continuing the
// caller's trace and named after the route; a client span per token
// request, whose traceparent the token service received; Redis command
// spans under the request that ran them; a background renewal as a trace
// of its own; log lines carrying the request's trace and span ids; and no
// token or secret anywhere in the spans.
func TestTracesOverOTLP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	receiver := startOTLPReceiver(t)
	ts := startTracedTokenService(t, 3*time.Second)
	redisEnv, _, _ := sharedRedisEnv(t)
	env := append([]string{
		"JWT_TOKEN_SERVICE_URL=" + ts.URL, "JWT_CLIENT_ID=" + opsClientID, "JWT_CLIENT_SECRET=" + opsSecret,
		"JWT_RENEWAL_BUFFER=1",
		"LOG_LEVEL=debug", "LOG_FORMAT=json", "SERVER_PORT=0", "SERVER_ADDRESS=127.0.0.1",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + receiver.URL,
		"OTEL_BSP_SCHEDULE_DELAY=60000",
		"OTEL_SERVICE_NAME=jwtcache-e2e",
	}, redisEnv...)
	p := start(t, env, "serve")
	base := "http://127.0.0.1:" + p.waitFor(servingJSONRE)

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	tok := fetch(t, "GET", base, rest.BasePath+"/token/kyc", "traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	if tok.status != 200 {
		t.Fatalf("token: %d %s", tok.status, tok.body)
	}
	var answer struct{ AccessToken string }
	if err := json.Unmarshal(tok.body, &answer); err != nil || answer.AccessToken == "" {
		t.Fatalf("token answer %s: %v", tok.body, err)
	}
	if r := fetch(t, "GET", base, rest.BasePath+"/status/kyc"); r.status != 200 {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	// The token lives 3 s: the scheduler renews it in the background
	// well before it expires, with no request asking.
	redistest.WaitFor(t, 15*time.Second, "a background renewal", func(context.Context) bool { return ts.calls.Load() >= 2 })
	p.stop()
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	spans := receiver.all()
	byID := map[string]gotSpan{}
	for _, s := range spans {
		byID[s.spanID] = s
		if s.service != "jwtcache-e2e" {
			t.Errorf("span %q from service %q: OTEL_SERVICE_NAME not honoured", s.name, s.service)
		}
		for k, v := range s.attrs {
			if strings.Contains(v, answer.AccessToken) || strings.Contains(v, opsSecret) {
				t.Fatalf("span %q shows a token or the secret in %s", s.name, k)
			}
		}
	}
	find := func(name string) gotSpan {
		t.Helper()
		for _, s := range spans {
			if s.name == name {
				return s
			}
		}
		t.Fatalf("no span %q among %d", name, len(spans))
		return gotSpan{}
	}

	// The REST request: a server span in the caller's trace.
	server := find("GET /api/v1/jwt/token/:serviceName")
	if server.kind != tracepb.Span_SPAN_KIND_SERVER || server.traceID != callerTrace || server.parentID != callerSpan {
		t.Errorf("token request span: kind %v, trace %s, parent %s; want a server span under the caller's", server.kind, server.traceID, server.parentID)
	}
	if server.attrs["http.route"] != "/api/v1/jwt/token/:serviceName" || server.attrs["jwtcache.service_name"] != "kyc" {
		t.Errorf("token request span attributes %v", server.attrs)
	}

	// Every token request: a client span, whose context the token
	// service received as traceparent.
	sent := ts.received()
	if len(sent) < 2 {
		t.Fatalf("%d token requests", len(sent))
	}
	issued := make([]gotSpan, len(sent))
	for i, tp := range sent {
		m := traceparentRE.FindStringSubmatch(tp)
		if m == nil {
			t.Fatalf("token request %d: traceparent %q", i, tp)
		}
		s, ok := byID[m[2]]
		if !ok || s.traceID != m[1] || s.name != "POST /oauth/token" || s.kind != tracepb.Span_SPAN_KIND_CLIENT {
			t.Fatalf("token request %d: traceparent %q is not a token-request client span (%+v)", i, tp, s)
		}
		issued[i] = s
	}
	// The renewal, made by no request: a root span, a trace of its own.
	renewal := issued[1]
	if renewal.parentID != "" || renewal.traceID == callerTrace {
		t.Errorf("renewal span: trace %s, parent %q; want a root span of its own trace", renewal.traceID, renewal.parentID)
	}
	// The miss's fetch, shared by every caller waiting for it, carries the
	// first caller's span: its token request is a child of the REST span.
	if miss := issued[0]; miss.traceID != callerTrace || miss.parentID != server.spanID {
		t.Errorf("token request of the REST miss: trace %s, parent %q; want a child of the REST span %s in trace %s", miss.traceID, miss.parentID, server.spanID, callerTrace)
	}

	// Redis: the commands a request ran are spans under its span.
	if redisEnv != nil {
		status := find("GET /api/v1/jwt/status/:serviceName")
		var commands []string
		for _, s := range spans {
			if s.attrs["db.system"] == "redis" {
				if s.parentID == status.spanID {
					commands = append(commands, s.name)
				}
				if _, ok := s.attrs["db.statement"]; ok {
					t.Errorf("Redis span %q records its command", s.name)
				}
			}
		}
		if len(commands) == 0 {
			t.Errorf("no Redis command span under the status request")
		}
	}

	// Logs: the request log line carries the request's trace and span.
	var logged bool
	sc := bufio.NewScanner(strings.NewReader(p.output()))
	for sc.Scan() {
		var line struct {
			Msg, Route string
			Trace      string `json:"trace_id"`
			Span       string `json:"span_id"`
		}
		if json.Unmarshal(sc.Bytes(), &line) != nil || line.Msg != "rest: request" || line.Route != "/api/v1/jwt/token/:serviceName" {
			continue
		}
		logged = true
		if line.Trace != server.traceID || line.Span != server.spanID {
			t.Errorf("request log has trace_id %q span_id %q, want %s %s", line.Trace, line.Span, server.traceID, server.spanID)
		}
	}
	if !logged {
		t.Error("no request log line for the token request")
	}
	mustContainNone(t, "the log", p.output(), answer.AccessToken, opsSecret)
}

func TestTracingWanted(t *testing.T) {
	const ep = "http://collector:4318"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    bool
		errName string // the variable the error must name; "" for no error
	}{
		{"nothing set", nil, false, ""},
		{"endpoint", map[string]string{envEndpoint: ep}, true, ""},
		{"traces endpoint", map[string]string{envTracesEndpoint: ep + "/v1/traces"}, true, ""},
		{"https", map[string]string{envEndpoint: "https://collector.example:4318"}, true, ""},
		{"sdk disabled", map[string]string{envEndpoint: ep, envSDKDisabled: "TRUE"}, false, ""},
		{"sdk not disabled", map[string]string{envEndpoint: ep, envSDKDisabled: "false"}, true, ""},
		{"exporter none", map[string]string{envEndpoint: ep, envTracesExporter: "none"}, false, ""},
		{"exporter otlp", map[string]string{envEndpoint: ep, envTracesExporter: "otlp"}, true, ""},
		{"http/protobuf", map[string]string{envEndpoint: ep, envProtocol: "http/protobuf", envTracesProtocol: "http/protobuf"}, true, ""},
		{"exporter zipkin", map[string]string{envEndpoint: ep, envTracesExporter: "zipkin"}, false, envTracesExporter},
		{"grpc", map[string]string{envEndpoint: ep, envProtocol: "grpc"}, false, envProtocol},
		{"traces json", map[string]string{envEndpoint: ep, envTracesProtocol: "http/json"}, true, ""},
		{"traces grpc", map[string]string{envEndpoint: ep, envTracesProtocol: "grpc"}, false, envTracesProtocol},
		{"no scheme", map[string]string{envEndpoint: "collector:4318"}, false, envEndpoint},
		{"no host", map[string]string{envTracesEndpoint: "http:///v1/traces"}, false, envTracesEndpoint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tracingWanted(func(k string) string { return tc.env[k] })
			switch {
			case tc.errName == "" && err != nil:
				t.Fatalf("error %v", err)
			case tc.errName != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.errName+":")):
				t.Fatalf("error %v, want one naming %s", err, tc.errName)
			case got != tc.want:
				t.Fatalf("tracing %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTracingSettingsCheckedAtStart: a setting jwtcache cannot honour is a
// configuration error (exit 2) naming it, before anything starts.
func TestTracingSettingsCheckedAtStart(t *testing.T) {
	t.Setenv(envEndpoint, "http://127.0.0.1:1")
	t.Setenv(envProtocol, "grpc")
	var stderr strings.Builder
	environ := []string{"JWT_TOKEN_SERVICE_URL=http://127.0.0.1:1/oauth/token", "JWT_CLIENT_ID=c", "JWT_CLIENT_SECRET=s"}
	if code := run(t.Context(), []string{"serve"}, environ, io.Discard, &stderr); code != exitConfig {
		t.Fatalf("exit %d, want %d: %s", code, exitConfig, stderr.String())
	}
	if !strings.Contains(stderr.String(), envProtocol) {
		t.Fatalf("the error does not name %s: %s", envProtocol, stderr.String())
	}
}

func TestTraceHandler(t *testing.T) {
	var out strings.Builder
	logger := slog.New(traceHandler{slog.NewJSONHandler(&out, nil)}).With("component", "test")
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x4b, 0xf9, 1}, SpanID: trace.SpanID{0x00, 0xf0, 2}, TraceFlags: trace.FlagsSampled,
	})
	logger.InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "with span")
	logger.InfoContext(context.Background(), "without span")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines", len(lines))
	}
	var with, without map[string]any
	if json.Unmarshal([]byte(lines[0]), &with) != nil || json.Unmarshal([]byte(lines[1]), &without) != nil {
		t.Fatalf("not JSON: %s", out.String())
	}
	if with["trace_id"] != sc.TraceID().String() || with["span_id"] != sc.SpanID().String() || with["component"] != "test" {
		t.Errorf("line with a span: %v", with)
	}
	if _, ok := without["trace_id"]; ok {
		t.Errorf("line without a span: %v", without)
	}
}

// TestTracingShutdownBounded: a collector that never answers costs the
// buffered spans at shutdown, within the stop's bound, and a warning.
func TestTracingShutdownBounded(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(func() { close(hang); srv.Close() })
	t.Setenv(envEndpoint, srv.URL)
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	tp, err := newTracerProvider(t.Context(), logger)
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(context.Background(), "buffered")
	span.End()

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	shutdownTracing(ctx, tp, logger)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("shutdown took %v with a 300ms stop bound", took)
	}
	if !strings.Contains(logs.String(), "spans not flushed at shutdown") {
		t.Fatalf("no warning: %s", logs.String())
	}
}

// lockedBuffer is a log sink safe for the SDK's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

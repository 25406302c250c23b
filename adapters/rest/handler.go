package rest

import (
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/trace"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/app"
	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// Options configures the REST API. Every field is optional.
type Options struct {
	// Logger receives the debug-level request log and the errors the API
	// cannot explain to the client. Default: slog.Default().
	Logger *slog.Logger
	// Clock stamps the responses the core did not stamp itself (errors,
	// bearer). Default: the system clock.
	Clock ports.Clock
	// Auth, when not nil, requires API keys on the endpoints that hand out
	// tokens or change the cache; see NewAuth. It runs after panic
	// recovery and before Middleware.
	Auth *Auth
	// Middleware runs on every request, unknown routes included, after
	// panic recovery and Auth and before the endpoint.
	Middleware []gin.HandlerFunc
	// Metrics, when not nil, is served at GET /metrics (the Prometheus
	// handler of adapters/metrics). It needs an API key only when Auth
	// protects the status endpoints.
	Metrics http.Handler
	// Readiness is the shutdown state GET /readyz reports; give the same
	// one to Server.DrainFirst. Default: one that never drains, so that
	// /readyz follows the cache's health only.
	Readiness *Readiness
	// TracerProvider, when not nil, traces every request: one server span
	// named after the route template, continuing the caller's W3C trace
	// context, in the context the core and the store are called with. Nil
	// adds no middleware and costs the requests nothing.
	TracerProvider trace.TracerProvider
	// Observer, when not nil, is told of every request answered: its route
	// template, method, status and duration (adapters/metrics counts them).
	// Nil costs the requests nothing.
	Observer RequestObserver
	// EventStream bounds the event feed at EventsPath.
	EventStream EventStreamOptions
}

// BasePath is the prefix of every endpoint, restapi.BasePath.
const BasePath = restapi.BasePath

// paramService is the path parameter holding the service name.
const paramService = restapi.ServiceParam

var releaseMode sync.Once

// NewHandler returns the REST API over svc: the guide's eight endpoints
// under BasePath and its OpenAPI document (OpenAPIPath), the probes
// LivezPath and ReadyzPath, Options.Metrics at MetricsPath, JSON errors for
// unknown routes (404) and wrong methods (405), and panics recovered into
// a JSON 500.
func NewHandler(svc Cache, opts Options) http.Handler {
	a, e := newEngine(svc, opts)

	g := e.Group(BasePath)
	byName := "/:" + paramService
	g.GET(restapi.TokenPath+byName, a.token)
	g.GET(restapi.BearerPath+byName, a.bearer)
	g.POST(restapi.RefreshPath+byName, a.refreshQuery)
	g.DELETE(restapi.EvictPath+byName, a.evict)
	g.GET(restapi.StatusPath+byName, a.status)
	g.GET(restapi.StatusPath, a.statusList)
	g.GET(restapi.StatisticsPath, a.statistics)
	g.GET(restapi.HealthPath, a.health)
	g.GET(OpenAPIPath, a.openAPI)
	g.GET(EventsPath, a.events)
	registerConsole(e)

	// Operations endpoints, outside the guide's API: probes and metrics.
	e.GET(LivezPath, a.livez)
	e.GET(ReadyzPath, a.readyz)
	if opts.Metrics != nil {
		e.GET(MetricsPath, gin.WrapH(opts.Metrics))
	}

	e.NoRoute(a.notFound)
	e.NoMethod(a.methodNotAllowed)
	return e
}

// newEngine is a gin engine with no routes yet and the middleware every
// handler of this package runs: the request log, panic recovery, the body
// refusal, Auth and Options.Middleware.
func newEngine(svc Cache, opts Options) (*api, *gin.Engine) {
	if svc == nil {
		panic("rest: a handler needs a Cache")
	}
	// Gin's debug mode prints a banner and every route to stdout; this
	// service logs through slog only.
	releaseMode.Do(func() { gin.SetMode(gin.ReleaseMode) })

	a := &api{svc: svc, clock: opts.Clock, log: opts.Logger, auth: opts.Auth, ready: opts.Readiness,
		streams: newEventStreams(svc, opts.EventStream)}
	if a.clock == nil {
		a.clock = ports.SystemClock
	}
	if a.log == nil {
		a.log = slog.Default()
	}

	e := gin.New()
	e.HandleMethodNotAllowed = true
	// A redirect would answer /status/ with an HTML body; every path that
	// is not an endpoint gets the JSON 404 instead.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false

	if opts.TracerProvider != nil {
		e.Use(traceRequests(opts.TracerProvider))
	}
	if opts.Observer != nil {
		e.Use(observeRequests(opts.Observer))
	}
	// The logger wraps recovery so that it sees the 500 a panic becomes.
	e.Use(a.logRequests, gin.CustomRecoveryWithWriter(nil, a.recovered), a.refuseBody)
	if a.auth != nil {
		e.Use(a.authenticate)
	}
	e.Use(opts.Middleware...)
	return a, e
}

// api holds the endpoints. It is immutable after NewHandler.
type api struct {
	svc   Cache
	clock ports.Clock
	log   *slog.Logger
	// auth is nil when the API is open.
	auth *Auth
	// ready is nil when nothing drains it.
	ready *Readiness
	// streams serves the event feed.
	streams *eventStreams
}

// stamp is the response timestamp: the instant the core's view describes,
// so that timestamp and the secondsUntil* fields agree, or now when the
// view carries none.
func (a *api) stamp(at time.Time) time.Time {
	if at.IsZero() {
		return a.clock.Now()
	}
	return at
}

// token is GET /token/:serviceName, the hot path.
func (a *api) token(c *gin.Context) {
	name := c.Param(paramService)
	tok, err := a.svc.Token(c.Request.Context(), name)
	if err != nil {
		a.fail(c, name, err)
		return
	}
	a.sendToken(c, name, "", tok)
}

// The messages of the refresh answer.
const (
	msgRefreshed = "Token refreshed successfully"
	// msgRefreshReused answers a refresh within the minimum interval of
	// the previous one (JWT_REFRESH_MIN_INTERVAL): no new call was made.
	msgRefreshReused = "Token refreshed recently; returning the token from that refresh"
)

// refresh is POST /refresh/:serviceName: the token response with a
// message.
func (a *api) refresh(c *gin.Context) {
	name := c.Param(paramService)
	if tok, msg, ok := a.forceRefresh(c, name); ok {
		a.sendToken(c, name, msg, tok)
	}
}

// forceRefresh refreshes name's token and returns it with the message that
// says whether the refresh was reused; on failure it has answered the
// error and reports false.
func (a *api) forceRefresh(c *gin.Context, name string) (domain.Token, string, bool) {
	r, err := a.svc.RefreshWithResult(c.Request.Context(), name)
	if err != nil {
		a.fail(c, name, err)
		return domain.Token{}, "", false
	}
	if r.Reused {
		return r.Token, msgRefreshReused, true
	}
	return r.Token, msgRefreshed, true
}

// sendToken writes a token with its status fields.
func (a *api) sendToken(c *gin.Context, name, message string, tok domain.Token) {
	st := a.svc.Describe(name, tok)
	r := restapi.TokenResponse{
		ServiceName: name,
		Message:     message,
		AccessToken: tok.AccessToken,
		TokenStatus: tokenStatus(st),
		Timestamp:   a.stamp(st.At),
	}
	w := getWriter()
	writeTokenResponse(w, &r)
	setNoStore(c.Writer.Header())
	send(c.Writer, http.StatusOK, w)
}

// bearer is GET /bearer/:serviceName.
func (a *api) bearer(c *gin.Context) {
	name := c.Param(paramService)
	tok, err := a.svc.Token(c.Request.Context(), name)
	if err != nil {
		a.fail(c, name, err)
		return
	}
	w := getWriter()
	w.open()
	w.str("serviceName", name)
	w.str("bearerToken", tok.AuthorizationHeader())
	w.time("timestamp", a.clock.Now())
	w.close()
	setNoStore(c.Writer.Header())
	send(c.Writer, http.StatusOK, w)
}

// evict is DELETE /evict/:serviceName. Evicting nothing is not an error:
// the cache is in the state the client asked for.
func (a *api) evict(c *gin.Context) {
	name := c.Param(paramService)
	ev, err := a.svc.Evict(c.Request.Context(), name)
	if err != nil {
		a.fail(c, name, err)
		return
	}
	w := getWriter()
	w.open()
	w.str("serviceName", name)
	w.bool("evicted", ev.Removed)
	if ev.Removed {
		w.str("message", "Token evicted")
		ts := tokenStatus(ev.Token)
		writeStatusFields(w, &ts)
	} else {
		w.str("message", "No cached token")
	}
	w.time("timestamp", a.stamp(ev.Token.At))
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// status is GET /status/:serviceName. When nothing is cached the answer is
// 200 with exists:false and no token fields, rather than zero values that
// would read as a token issued in year 1.
func (a *api) status(c *gin.Context) {
	name := c.Param(paramService)
	st, err := a.svc.Status(c.Request.Context(), name)
	if err != nil {
		a.fail(c, name, err)
		return
	}
	w := getWriter()
	w.open()
	w.str("serviceName", name)
	w.bool("exists", st.Exists)
	if st.Exists {
		ts := tokenStatus(st)
		writeStatusFields(w, &ts)
	}
	w.time("timestamp", a.stamp(st.At))
	writePartial(w, st.StoreError)
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// statuses is GET /status: every cached token by service name, sorted so
// that the document is stable.
func (a *api) statuses(c *gin.Context) {
	all, err := a.svc.Statuses(c.Request.Context())
	if err != nil {
		a.fail(c, "", err)
		return
	}
	tokens := make([]app.TokenStatus, 0, len(all.Tokens))
	for _, st := range all.Tokens {
		if st.Exists {
			tokens = append(tokens, st)
		}
	}
	slices.SortFunc(tokens, func(x, y app.TokenStatus) int { return strings.Compare(x.Service, y.Service) })

	w := getWriter()
	w.open()
	w.time("timestamp", a.stamp(all.At))
	w.int("totalTokens", int64(len(tokens)))
	w.object("tokens")
	for _, st := range tokens {
		w.entry(st.Service)
		ts := tokenStatus(st)
		writeStatusFields(w, &ts)
		w.close()
	}
	w.close()
	writePartial(w, all.StoreError)
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// statistics is GET /statistics: the guide's token counts plus the
// process's request counters.
func (a *api) statistics(c *gin.Context) {
	s, err := a.svc.Statistics(c.Request.Context())
	if err != nil {
		a.fail(c, "", err)
		return
	}
	ratio := s.HitRatio()
	w := getWriter()
	w.open()
	w.time("timestamp", a.stamp(s.At))
	w.int("totalTokens", int64(s.TotalTokens))
	w.int("activeTokens", int64(s.ActiveTokens))
	w.int("expiredTokens", int64(s.ExpiredTokens))
	w.int("renewingTokens", int64(s.RenewingTokens))
	w.uint("cacheHits", s.CacheHits)
	w.uint("cacheMisses", s.CacheMisses)
	w.float("hitRatio", ratio)
	w.float("hitRatioPercent", math.Round(ratio*10000)/100)
	w.uint("tokenServiceRequests", s.TokenServiceRequests)
	w.uint("tokenServiceFailures", s.TokenServiceFailures)
	w.uint("renewals", s.Renewals)
	w.uint("renewalFailures", s.RenewalFailures)
	w.uint("forcedRefreshes", s.ForcedRefreshes)
	w.uint("evictions", s.Evictions)
	// Not in the guide: the limits' refusals and reuses.
	w.uint("serviceLimitRefusals", s.ServiceLimitRefusals)
	w.uint("rateLimitRefusals", s.RateLimitRefusals)
	w.uint("reusedRefreshes", s.ReusedRefreshes)
	writePartial(w, s.StoreError)
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// health is GET /health: 503 when DOWN, so that a load balancer's probe
// needs only the status code; 200 when UP or DEGRADED.
func (a *api) health(c *gin.Context) {
	h := a.svc.Health(c.Request.Context())
	code := http.StatusOK
	if h.Status == app.StatusDown {
		code = http.StatusServiceUnavailable
	}
	w := getWriter()
	w.open()
	w.time("timestamp", a.stamp(h.At))
	w.bool("healthy", h.Healthy())
	w.str("status", string(h.Status))
	w.object("components")
	writeComponent(w, "store", h.Store)
	writeComponent(w, "tokenService", h.TokenService)
	w.close()
	w.close()
	send(c.Writer, code, w)
}

// writePartial marks an answer that is this replica's view only, the
// shared store being unreadable: fields the guide does not have, absent
// when the store answered, so that the guide's answers are unchanged.
func writePartial(w *jsonWriter, storeError string) {
	if storeError == "" {
		return
	}
	w.bool("partial", true)
	w.str("storeError", storeError)
}

func writeComponent(w *jsonWriter, name string, ch app.ComponentHealth) {
	w.object(name)
	w.str("status", string(ch.Status))
	if ch.Detail != "" {
		w.str("detail", ch.Detail)
	}
	w.close()
}

func (a *api) notFound(c *gin.Context) {
	a.writeError(c, "", apiError{status: http.StatusNotFound, code: restapi.CodeNotFound,
		message: "no such endpoint"})
}

// methodNotAllowed answers a known path with the wrong method; gin has set
// the Allow header already.
func (a *api) methodNotAllowed(c *gin.Context) {
	a.writeError(c, "", apiError{status: http.StatusMethodNotAllowed, code: restapi.CodeMethodNotAllowed,
		message: "method " + c.Request.Method + " is not allowed here"})
}

// fail answers err from the core. Errors the API can explain are routine
// and logged at debug level; any other is logged at error level, since
// only the log tells what happened.
func (a *api) fail(c *gin.Context, service string, err error) {
	e := mapError(err, service)
	ctx := c.Request.Context()
	if e.code == restapi.CodeInternal {
		a.log.ErrorContext(ctx, "rest: unexpected error from the token service core",
			"route", c.FullPath(), "service", restapi.Clip(service), "error", err.Error())
	} else {
		a.log.DebugContext(ctx, "rest: request failed",
			"route", c.FullPath(), "service", restapi.Clip(service), "code", e.code)
	}
	if e.retryAfter > 0 {
		c.Writer.Header().Set("Retry-After", retryAfterValue(e.retryAfter))
	}
	a.writeError(c, service, e)
}

// writeError writes the one error shape.
func (a *api) writeError(c *gin.Context, service string, e apiError) {
	r := restapi.ErrorResponse{
		Error:             e.code,
		Message:           e.message,
		ServiceName:       restapi.Clip(service),
		TokenServiceError: e.tokenServiceError,
		Timestamp:         a.clock.Now(),
	}
	w := getWriter()
	writeErrorResponse(w, &r)
	send(c.Writer, e.status, w)
}

package rest

import (
	"net/http"
	"sync"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/app"
)

// The probe paths, at the root as Kubernetes and most load balancers
// expect them, beside BasePath's /health.
const (
	LivezPath  = "/livez"
	ReadyzPath = "/readyz"
	// MetricsPath is where Options.Metrics is served.
	MetricsPath = "/metrics"
)

// Readiness is the process's shutdown state as GET /readyz reports it:
// once Drain is called, /readyz answers 503 whatever the cache's health, so
// that load balancers stop sending requests before the server stops
// accepting them (Server.DrainFirst calls Drain at the start of Stop).
//
// The zero Readiness is ready. It is safe for concurrent use.
type Readiness struct {
	mu sync.Mutex
	// draining is closed by Drain; made on first use.
	draining chan struct{} // guarded by mu
}

func (r *Readiness) ch() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining == nil {
		r.draining = make(chan struct{})
	}
	return r.draining
}

// Drain marks the process as going away. Calling it again does nothing.
func (r *Readiness) Drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.draining == nil {
		r.draining = make(chan struct{})
	}
	select {
	case <-r.draining:
	default:
		close(r.draining)
	}
}

// Draining reports whether Drain was called. A nil Readiness is never
// draining.
func (r *Readiness) Draining() bool {
	if r == nil {
		return false
	}
	select {
	case <-r.ch():
		return true
	default:
		return false
	}
}

// Drained is closed once Drain has been called.
func (r *Readiness) Drained() <-chan struct{} { return r.ch() }

// livez is GET /livez: the process is up and serving HTTP. It asks
// nothing of the cache, the store or the token service, so that a
// dependency's outage never gets the process restarted.
func (a *api) livez(c *gin.Context) {
	w := getWriter()
	w.open()
	w.str("status", "UP")
	w.time("timestamp", a.clock.Now())
	w.close()
	send(c.Writer, http.StatusOK, w)
}

// readyz is GET /readyz: 200 while the cache can serve tokens (health UP
// or DEGRADED), 503 when it cannot (DOWN) or the process is shutting down.
func (a *api) readyz(c *gin.Context) {
	w := getWriter()
	w.open()
	if a.ready.Draining() {
		w.bool("ready", false)
		w.str("status", string(app.StatusDown))
		w.str("detail", "shutting down")
		w.time("timestamp", a.clock.Now())
		w.close()
		send(c.Writer, http.StatusServiceUnavailable, w)
		return
	}
	h := a.svc.Health(c.Request.Context())
	code := http.StatusOK
	if !h.Healthy() {
		code = http.StatusServiceUnavailable
	}
	w.bool("ready", h.Healthy())
	w.str("status", string(h.Status))
	w.time("timestamp", a.stamp(h.At))
	w.close()
	send(c.Writer, code, w)
}

package rest

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// HealthPath is the guide's health endpoint, under BasePath.
const HealthPath = BasePath + "/health"

// NewManagementHandler returns the operations endpoints alone, for a
// listener of their own (ServerConfig.ManagementAddr): LivezPath,
// ReadyzPath, Options.Metrics at MetricsPath and the guide's HealthPath,
// answering as NewHandler's do, with the same Auth and the same JSON
// errors for anything else. Kubernetes probes and Prometheus scrapes
// pointed at it are still answered while the API port is flooded.
func NewManagementHandler(svc Cache, opts Options) http.Handler {
	a, e := newEngine(svc, opts)
	e.GET(LivezPath, a.livez)
	e.GET(ReadyzPath, a.readyz)
	e.GET(HealthPath, a.health)
	if opts.Metrics != nil {
		e.GET(MetricsPath, gin.WrapH(opts.Metrics))
	}
	e.NoRoute(a.notFound)
	e.NoMethod(a.methodNotAllowed)
	return e
}

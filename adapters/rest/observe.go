package rest

import (
	"time"

	"github.com/gin-gonic/gin"
)

// RequestObserver is told of every request the API answers, unknown routes,
// refused API keys and recovered panics included; adapters/metrics.Metrics
// satisfies it. It is called on the request's goroutine after the answer
// is written, so it must be quick and safe for concurrent use.
type RequestObserver interface {
	// ObserveRequest receives the route template the request matched (for
	// example /api/v1/jwt/token/:serviceName; "" when none did), never the
	// request's path, so that a label made from it stays bounded, with the
	// method as the client sent it, the status answered and the time taken.
	ObserveRequest(route, method string, status int, d time.Duration)
}

// observeRequests reports each request to o. It runs before panic recovery
// so that it sees the 500 a panic becomes, and before the API key check so
// that refused requests count too.
func observeRequests(o RequestObserver) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		o.ObserveRequest(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
	}
}

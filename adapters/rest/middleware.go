package rest

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

// logRequests logs each request at debug level: method, route pattern,
// service name, status and duration. Never headers, query or body, which
// may hold credentials. It costs one Enabled check when debug is off.
func (a *api) logRequests(c *gin.Context) {
	ctx := c.Request.Context()
	if !a.log.Enabled(ctx, slog.LevelDebug) {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	a.log.LogAttrs(ctx, slog.LevelDebug, "rest: request",
		slog.String("method", c.Request.Method),
		slog.String("route", c.FullPath()),
		slog.String("service", restapi.Clip(c.Param(paramService))),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", time.Since(start)))
}

// recovered is gin's recovery callback: a panic becomes a JSON 500 (unless
// the answer was already under way) and an error log with the stack, so
// that a bug never reaches the client as a dropped connection or an HTML
// page.
func (a *api) recovered(c *gin.Context, rec any) {
	a.log.ErrorContext(c.Request.Context(), "rest: handler panicked",
		"method", c.Request.Method, "route", c.FullPath(),
		"panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
	if !c.Writer.Written() {
		a.writeError(c, c.Param(paramService), apiError{status: http.StatusInternalServerError,
			code: restapi.CodeInternal, message: "internal error"})
	}
	c.Abort()
}

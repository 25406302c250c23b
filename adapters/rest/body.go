package rest

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

// refuseBody answers 413 request_body_not_allowed to a request that
// announces a body (a Content-Length above 0, or chunked), before anything
// reads it: no endpoint takes one, and a client that drips a body must not
// hold a connection while the server waits for it.
//
// The answer closes the connection. net/http would still read up to 256
// KiB of the unread body when the handler returns, to find its end, so
// the connection's read deadline is moved to now first: that read fails at
// once and the connection is dropped after the answer.
func (a *api) refuseBody(c *gin.Context) {
	if c.Request.ContentLength == 0 {
		return
	}
	c.Writer.Header().Set("Connection", "close")
	// Not every ResponseWriter has a connection (tests use recorders);
	// without one there is nothing to read.
	_ = http.NewResponseController(c.Writer).SetReadDeadline(time.Now())
	a.writeError(c, "", apiError{status: http.StatusRequestEntityTooLarge, code: restapi.CodeBodyNotAllowed,
		message: "jwtcache's endpoints take no request body"})
	c.Abort()
}

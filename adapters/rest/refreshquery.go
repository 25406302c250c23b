package rest

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
)

// paramIncludeToken is the query parameter of POST /refresh that, set to
// false, leaves the new token out of the answer: the operator console
// forces refreshes without ever receiving a token.
const paramIncludeToken = "includeToken"

// refreshQuery is POST /refresh/:serviceName: the guide's answer, or with
// includeToken=false the same answer without accessToken.
func (a *api) refreshQuery(c *gin.Context) {
	vals, present := c.Request.URL.Query()[paramIncludeToken]
	if !present || (len(vals) == 1 && vals[0] == "true") {
		a.refresh(c)
		return
	}
	name := c.Param(paramService)
	if len(vals) != 1 || vals[0] != "false" {
		a.writeError(c, name, apiError{status: http.StatusBadRequest, code: restapi.CodeInvalidParameter,
			message: "includeToken must be true or false, given once"})
		return
	}
	tok, msg, ok := a.forceRefresh(c, name)
	if !ok {
		return
	}
	st := a.svc.Describe(name, tok)
	w := getWriter()
	w.open()
	w.str("serviceName", name)
	w.str("message", msg)
	ts := tokenStatus(st)
	writeStatusFields(w, &ts)
	w.time("timestamp", a.stamp(st.At))
	w.close()
	send(c.Writer, http.StatusOK, w)
}

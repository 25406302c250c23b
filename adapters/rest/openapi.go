package rest

import (
	_ "embed"
	"net/http"
	"slices"

	"github.com/gin-gonic/gin"
)

// OpenAPIPath is where, under BasePath, the API's OpenAPI 3 document is
// served.
const OpenAPIPath = "/openapi.json"

// openAPIDoc is the OpenAPI 3 description of every endpoint NewHandler
// serves. A test checks it against the handler's real answers, field by
// field, so it cannot drift from them silently.
//
//go:embed openapi.json
var openAPIDoc []byte

// OpenAPI returns a copy of the API's OpenAPI 3 document (JSON).
func OpenAPI() []byte { return slices.Clone(openAPIDoc) }

// openAPI is GET BasePath+OpenAPIPath.
func (a *api) openAPI(c *gin.Context) {
	c.Writer.Header()["Content-Type"] = jsonContentType
	c.Writer.WriteHeader(http.StatusOK)
	_, _ = c.Writer.Write(openAPIDoc)
}

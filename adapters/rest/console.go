package rest

import (
	"embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// ConsolePath is where the operator console, a single page, is served; GET
// / and GET /ui redirect to it.
const ConsolePath = "/ui/"

// consoleFiles are the console's page, script, style sheet and icon. They
// load nothing from elsewhere: no CDN, no web font, no build step.
//
//go:embed console
var consoleFiles embed.FS

// consoleAssets maps each served path to its file and content type.
var consoleAssets = []struct{ path, file, contentType string }{
	{ConsolePath, "console/index.html", "text/html; charset=utf-8"},
	{ConsolePath + "console.js", "console/console.js", "text/javascript; charset=utf-8"},
	{ConsolePath + "console.css", "console/console.css", "text/css; charset=utf-8"},
	{ConsolePath + "favicon.svg", "console/favicon.svg", "image/svg+xml"},
}

// consoleCSP lets the page load its own files and call its own API, and
// nothing else: no inline script, no other origin, no framing.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"font-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// registerConsole serves the console's files and the redirects to it.
func registerConsole(e *gin.Engine) {
	for _, as := range consoleAssets {
		body, err := consoleFiles.ReadFile(as.file)
		if err != nil {
			panic("rest: console file missing from the build: " + as.file)
		}
		contentType := []string{as.contentType}
		e.GET(as.path, func(c *gin.Context) {
			h := c.Writer.Header()
			h["Content-Type"] = contentType
			h.Set("Content-Security-Policy", consoleCSP)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "no-referrer")
			// Revalidated on each load, so that an upgrade shows at once.
			h.Set("Cache-Control", "no-cache")
			c.Writer.WriteHeader(http.StatusOK)
			_, _ = c.Writer.Write(body)
		})
	}
	toConsole := func(c *gin.Context) {
		c.Writer.Header().Set("Location", ConsolePath)
		c.Writer.WriteHeader(http.StatusFound)
	}
	e.GET("/", toConsole)
	e.GET("/ui", toConsole)
}

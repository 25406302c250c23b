// Package rest is jwtcache's REST API: the Gin handler serving the guide's
// /api/v1/jwt endpoints and the HTTP server that runs it. The server's fx
// wiring lives in cmd/jwtcache.
//
// The adapter drives the core through the small Cache interface it
// owns. Response field names and types are the guide's contract; times are
// RFC 3339 in UTC with second precision and durations are whole seconds.
// Every error, including unknown routes, wrong methods and recovered panics,
// is answered with one JSON shape:
//
//	{"error": "<code>", "message": "<text>", "serviceName": "<name>", "timestamp": "2024-01-15T10:30:00Z"}
//
// Only the token, bearer and refresh endpoints ever carry an access token,
// and they are sent with Cache-Control: no-store. Nothing in this package
// logs a token, a header or a body.
//
// Access control is optional: with an Auth (NewAuth) the endpoints that
// hand out tokens or change the cache need an API key, compared in
// constant time; see Auth for which endpoints and how.
//
// The Server bounds what a client can hold (Limits): request and answer
// times, header bytes and open connections. A request with a body is
// refused unread (413), since no endpoint takes one. An optional second
// listener (NewManagementHandler, ServerConfig.ManagementAddr) serves the
// probes, the health endpoint and the metrics apart from the API port.
//
// Observation is optional too, and costs nothing when off: an Observer
// (adapters/metrics) is told of every answered request by route template,
// method and status; a TracerProvider gives every request a server span
// that continues the caller's W3C trace context. Tracing uses the
// OpenTelemetry API only: a program using this package links the SDK only
// if it sets one up itself.
//
// Beside the guide's API it serves the operator console (ConsolePath, a
// single embedded page under a strict Content-Security-Policy), what the
// console reads: the paging parameters of GET /status (statusquery.go) and
// the event feed at EventsPath as server-sent events when the Cache is an
// EventSource (events.go), and the refresh without the token
// (includeToken=false) its buttons call.
package rest

// Package transport signs outgoing HTTP requests with cached tokens: the Go
// counterpart of the guide's JwtTokenInterceptor.
//
// A Transport is an http.RoundTripper that works out, from each request's
// host, which service the request is for (kyc-service.company.com is kyc),
// asks a Source for that service's token and sends the request with
// "Authorization: Bearer <token>". When the server answers 401 it refreshes
// the token once and, if the request body can be sent again, retries once.
//
// A Source is where tokens come from: an in-process *app.Cache (a cache
// hit costs a map lookup and no allocation), or a Remote, which asks a
// jwtcache server over its REST API, for programs that run jwtcache as a
// sidecar. TokenSource adapts either to golang.org/x/oauth2, so that
// oauth2.NewClient, oauth2.Transport and gRPC per-RPC credentials use them
// unchanged.
//
// The package does not import the core: a program that only talks to a
// jwtcache sidecar through Remote does not link the renewal engine. The
// core's *app.Cache satisfies Source and BearerSource as it is.
//
// Nothing in this package logs or returns in an error a token, an
// Authorization header, an API key or a request body.
package transport

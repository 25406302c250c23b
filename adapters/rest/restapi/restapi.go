// Package restapi is the contract of jwtcache's REST API, the guide's
// /api/v1/jwt endpoints: their paths, the JSON bodies of the answers that
// carry a token and of errors, and the stable error codes. The Gin adapter
// (adapters/rest) serves it and the remote client (adapters/transport's
// Remote) calls it, both through this package, so that changing the
// contract changes both or fails to compile.
//
// Times in the bodies are RFC 3339 in UTC with whole seconds; durations are
// whole seconds. The contract is the one of the original guide: paths,
// field names and codes never change, fields may be added.
package restapi

import (
	"net/url"
	"time"
)

// BasePath is the prefix of every endpoint.
const BasePath = "/api/v1/jwt"

// ServiceParam names the path segment holding the service name.
const ServiceParam = "serviceName"

// The endpoints, relative to BasePath. Those of one service take its name
// as the next path segment (ServicePath); StatusPath serves both forms.
const (
	TokenPath      = "/token"
	BearerPath     = "/bearer"
	RefreshPath    = "/refresh"
	EvictPath      = "/evict"
	StatusPath     = "/status"
	StatisticsPath = "/statistics"
	HealthPath     = "/health"
)

// ServicePath is the absolute path of endpoint (TokenPath, RefreshPath,
// ...) for service, path-escaped: ServicePath(TokenPath, "kyc") is
// "/api/v1/jwt/token/kyc".
func ServicePath(endpoint, service string) string {
	return BasePath + endpoint + "/" + url.PathEscape(service)
}

// The stable codes of ErrorResponse.Error. Clients may branch on them; the
// messages are for humans and may change.
const (
	CodeInvalidServiceName      = "invalid_service_name"
	CodeUnknownService          = "unknown_service"
	CodeTokenServiceRejected    = "token_service_rejected"
	CodeTokenServiceBadResponse = "token_service_bad_response"
	CodeTokenServiceUnavailable = "token_service_unavailable"
	CodeTokenServiceTimeout     = "token_service_timeout"
	CodeTimeout                 = "timeout"
	CodeRequestCanceled         = "request_canceled"
	CodeShuttingDown            = "shutting_down"
	CodeInternal                = "internal_error"
	CodeNotFound                = "not_found"
	CodeMethodNotAllowed        = "method_not_allowed"
	CodeUnauthorized            = "unauthorized"
	CodeForbidden               = "forbidden"
	CodeBodyNotAllowed          = "request_body_not_allowed"
	CodeTooManyServices         = "too_many_services"
	CodeRateLimited             = "rate_limited"
	// CodeInvalidParameter: a query parameter or header has a value the
	// API cannot use (GET /status paging, includeToken, Last-Event-ID).
	CodeInvalidParameter = "invalid_parameter"
	// CodeTooManyStreams: the event feed already serves as many streams
	// as it may.
	CodeTooManyStreams = "too_many_streams"
)

// TokenStatus describes a cached token without the credential: the fields
// the token, refresh, status and evict answers share.
type TokenStatus struct {
	TokenType string `json:"tokenType"`
	// ExpiresIn is the token's lifetime in whole seconds, rounded up.
	ExpiresIn int64     `json:"expiresIn"`
	Scope     string    `json:"scope"`
	IssuedAt  time.Time `json:"issuedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// CacheExpiresAt is when the token stops being fresh: ExpiresAt less
	// the renewal buffer.
	CacheExpiresAt          time.Time `json:"cacheExpiresAt"`
	SecondsUntilExpiry      int64     `json:"secondsUntilExpiry"`
	SecondsUntilCacheExpiry int64     `json:"secondsUntilCacheExpiry"`
	IsExpired               bool      `json:"isExpired"`
	IsCacheExpired          bool      `json:"isCacheExpired"`
	NeedsRenewal            bool      `json:"needsRenewal"`
	IsRenewing              bool      `json:"isRenewing"`
	// BoundToCertificate is true for a certificate-bound token (RFC 8705,
	// a cnf claim with x5t#S256); absent otherwise. Not in the guide.
	BoundToCertificate bool `json:"boundToCertificate,omitempty"`
}

// TokenResponse is the answer of GET TokenPath/{serviceName} and, with a
// Message, of POST RefreshPath/{serviceName}.
type TokenResponse struct {
	ServiceName string `json:"serviceName"`
	Message     string `json:"message,omitempty"`
	AccessToken string `json:"accessToken"`
	TokenStatus
	Timestamp time.Time `json:"timestamp"`
}

// ErrorResponse is the one shape of every error answer.
type ErrorResponse struct {
	// Error is one of the Code constants.
	Error   string `json:"error"`
	Message string `json:"message"`
	// ServiceName is the name the request was for, shortened; empty for
	// requests without one.
	ServiceName string `json:"serviceName,omitempty"`
	// TokenServiceError is the token service's RFC 6749 §5.2 error code,
	// with CodeTokenServiceRejected.
	TokenServiceError string    `json:"tokenServiceError,omitempty"`
	Timestamp         time.Time `json:"timestamp"`
}

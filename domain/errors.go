package domain

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

var (
	// ErrInvalidServiceName is wrapped by every error about a malformed
	// service name.
	ErrInvalidServiceName = errors.New("invalid service name")
	// ErrNotFound means no token is cached for a service.
	ErrNotFound = errors.New("token not found")
	// ErrUnknownService means the configuration does not allow tokens for a
	// service (strict per-service configuration).
	ErrUnknownService = errors.New("unknown service")
	// ErrLockHeld means another renewer holds the renewal lock of a service.
	ErrLockHeld = errors.New("renewal lock held by another renewer")
	// ErrClosed means the token service was closed.
	ErrClosed = errors.New("token cache closed")
)

// TokenServiceErrorKind classifies why a token could not be obtained from
// the token service; each kind maps to one HTTP status in the REST API.
type TokenServiceErrorKind int

const (
	// Rejected: the token service answered with an RFC 6749 §5.2 error.
	Rejected TokenServiceErrorKind = iota + 1
	// BadResponse: the answer was not a usable token response (not JSON,
	// no access_token, no expiry, too large, an unexpected status).
	BadResponse
	// Unreachable: no answer at all (connection refused, DNS, TLS, reset).
	Unreachable
	// Timeout: the token service did not answer in time.
	Timeout
)

// String names the kind as it appears in error codes.
func (k TokenServiceErrorKind) String() string {
	switch k {
	case Rejected:
		return "rejected"
	case BadResponse:
		return "bad_response"
	case Unreachable:
		return "unreachable"
	case Timeout:
		return "timeout"
	default:
		return "unknown"
	}
}

// TokenServiceError is the one error type a TokenIssuer returns for a failed
// token request. It carries the RFC 6749 §5.2 fields when the server sent
// them. It never holds the client secret or a token: Description comes from
// the server and is cut to a short length, and Err is only ever a transport
// or decoding error.
type TokenServiceError struct {
	Kind TokenServiceErrorKind
	// Service is the service name the token was for.
	Service string
	// Code is the RFC 6749 §5.2 "error" value (invalid_client, ...), if any.
	Code string
	// Description is the server's error_description, shortened.
	Description string
	// HTTPStatus is the status the token service answered with, or 0.
	HTTPStatus int
	// RetryAfter is the server's Retry-After, or 0.
	RetryAfter time.Duration
	// Err is the underlying transport or decoding error, if any.
	Err error
}

func (e *TokenServiceError) Error() string {
	msg := "token service " + e.Kind.String()
	if e.Service != "" {
		msg += fmt.Sprintf(" for service %q", e.Service)
	}
	if e.HTTPStatus != 0 {
		msg += fmt.Sprintf(": HTTP %d", e.HTTPStatus)
	}
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Description != "" {
		msg += " (" + e.Description + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *TokenServiceError) Unwrap() error { return e.Err }

// Temporary reports whether trying again later may succeed: timeouts,
// unreachable servers, 5xx and 429 answers, and the RFC 6749 codes
// temporarily_unavailable and server_error. A rejected client
// (invalid_client, unauthorized_client, invalid_scope, ...) is not.
func (e *TokenServiceError) Temporary() bool {
	switch e.Kind {
	case Timeout, Unreachable:
		return true
	}
	switch e.Code {
	case "temporarily_unavailable", "server_error", "slow_down":
		return true
	case "":
	default:
		return false
	}
	return e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus >= 500
}

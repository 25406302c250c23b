package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/domain"
)

// statusClientClosedRequest is nginx's status for a request its client
// abandoned. Nobody reads the answer; it keeps such requests out of the 5xx
// counts and error logs.
const statusClientClosedRequest = 499

// apiError is an error as the API answers it.
type apiError struct {
	status  int
	code    string
	message string
	// tokenServiceError is the token service's RFC 6749 §5.2 error code.
	tokenServiceError string
	// retryAfter is the token service's Retry-After, passed on to the
	// client.
	retryAfter time.Duration
}

// mapError turns an error from the core into the API's answer. It is the
// only place that decides status codes and error codes. An error it does
// not know becomes a generic internal_error: its text may come from a
// library and is never shown to the client.
func mapError(err error, service string) apiError {
	var tse *domain.TokenServiceError
	var tms *domain.TooManyServicesError
	var rl *domain.RateLimitedError
	switch {
	case errors.Is(err, domain.ErrInvalidServiceName):
		// The domain's own words: they explain the rule and never repeat
		// the name. The core's wrapping of it is not shown.
		msg := "invalid service name"
		if verr := domain.ValidateServiceName(service); verr != nil {
			msg = verr.Error()
		}
		return apiError{status: http.StatusBadRequest, code: restapi.CodeInvalidServiceName, message: msg}
	case errors.Is(err, domain.ErrUnknownService):
		return apiError{status: http.StatusNotFound, code: restapi.CodeUnknownService,
			message: "no token service is configured for this service name"}
	case errors.Is(err, domain.ErrClosed):
		return apiError{status: http.StatusServiceUnavailable, code: restapi.CodeShuttingDown,
			message: "the token cache is shutting down"}
	case errors.As(err, &tms):
		return apiError{status: http.StatusServiceUnavailable, code: restapi.CodeTooManyServices,
			message: fmt.Sprintf("this cache already holds its limit of %d service names (JWT_MAX_SERVICES); names it holds keep working", tms.Limit)}
	case errors.As(err, &rl):
		return apiError{status: http.StatusTooManyRequests, code: restapi.CodeRateLimited, retryAfter: rl.RetryAfter,
			message: "too many token requests for this token-service client (JWT_TOKEN_RATE, JWT_TOKEN_BURST); retry after Retry-After seconds"}
	case errors.As(err, &tse):
		return mapTokenServiceError(tse)
	case errors.Is(err, context.DeadlineExceeded):
		return apiError{status: http.StatusGatewayTimeout, code: restapi.CodeTimeout,
			message: "the request timed out"}
	case errors.Is(err, context.Canceled):
		return apiError{status: statusClientClosedRequest, code: restapi.CodeRequestCanceled,
			message: "the request was canceled"}
	default:
		return apiError{status: http.StatusInternalServerError, code: restapi.CodeInternal,
			message: "internal error"}
	}
}

// mapTokenServiceError maps a failed token request. The RFC 6749 error code
// and the (already shortened) description come from the token service and
// hold no secret, so they are passed on; the wrapped transport error is
// not.
func mapTokenServiceError(e *domain.TokenServiceError) apiError {
	a := apiError{retryAfter: e.RetryAfter}
	switch e.Kind {
	case domain.Rejected:
		a.status, a.code = http.StatusBadGateway, restapi.CodeTokenServiceRejected
		a.tokenServiceError = restapi.Clip(e.Code)
		a.message = "the token service rejected the token request" + upstreamDetail(e)
	case domain.Unreachable:
		a.status, a.code = http.StatusServiceUnavailable, restapi.CodeTokenServiceUnavailable
		a.message = "the token service is unreachable"
		if e.HTTPStatus == http.StatusTooManyRequests {
			// It answered, asking us to come back later (Retry-After).
			a.message = "the token service asks to retry later" + upstreamDetail(e)
		}
	case domain.Timeout:
		a.status, a.code = http.StatusGatewayTimeout, restapi.CodeTokenServiceTimeout
		a.message = "the token service did not answer in time"
	default: // BadResponse, and any kind added later
		a.status, a.code = http.StatusBadGateway, restapi.CodeTokenServiceBadResponse
		a.message = "the token service sent an unusable response" + upstreamDetail(e)
	}
	return a
}

// upstreamDetail is the token service's side of a failure: its HTTP
// status, error code and description, as far as it sent them.
func upstreamDetail(e *domain.TokenServiceError) string {
	var s string
	if e.HTTPStatus != 0 {
		s += " (HTTP " + strconv.Itoa(e.HTTPStatus) + ")"
	}
	if e.Code != "" {
		s += ": " + restapi.Clip(e.Code)
	}
	if e.Description != "" {
		s += ": " + restapi.Clip(e.Description)
	}
	return s
}

// retryAfterValue is d as a Retry-After delay in whole seconds, rounded up
// so that a client never comes back early; 0 for a d that is not positive.
// It rounds without adding to d, which would overflow near its maximum.
func retryAfterValue(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	secs := d / time.Second
	if d%time.Second != 0 {
		secs++
	}
	return strconv.FormatInt(int64(secs), 10)
}

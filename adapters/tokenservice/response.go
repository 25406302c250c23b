package tokenservice

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/jwtcache/jwtcache/domain"
)

// Sentinel errors a BadResponse *domain.TokenServiceError wraps in Err, so
// that callers and tests can tell the cases apart with errors.Is. None of
// them ever carries any part of the body: a body may hold a token.
var (
	// ErrBodyTooLarge: the body was longer than Options.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("response body too large")
	// ErrNotJSON: a 2xx body that is not a JSON object.
	ErrNotJSON = errors.New("response body is not a JSON object")
	// ErrNoAccessToken: a 2xx JSON body without a non-empty string
	// access_token.
	ErrNoAccessToken = errors.New("response has no access_token")
	// ErrNoExpiry: no expires_in, and the access token is not a JWT with an
	// exp claim, so there is no way to know when it expires.
	ErrNoExpiry = errors.New("response has no expires_in and the access token has no exp claim")
	// ErrBadExpiry: expires_in is not a positive number of seconds, or the
	// JWT's exp is not after the request.
	ErrBadExpiry = errors.New("response has an unusable expiry")
	// ErrDeadToken: the token expires before, or too soon after, it
	// arrived (see Options.MinTokenLifetime); it wraps ErrBadExpiry. It
	// usually means the token service's clock is wrong.
	ErrDeadToken = fmt.Errorf("%w: the token expires before it is of any use (is the token service's clock wrong?)", ErrBadExpiry)
	// ErrTooManyRequests: a 429 answer without an RFC 6749 §5.2 error
	// body, wrapped by an Unreachable error: the token service asks to be
	// left alone for a while (Retry-After), it did not refuse the client.
	ErrTooManyRequests = errors.New("HTTP 429 Too Many Requests: the token service asks to retry later")
	// ErrUnexpectedStatus: a non-2xx answer without an RFC 6749 §5.2 error
	// body.
	ErrUnexpectedStatus = errors.New("unexpected HTTP status without an RFC 6749 error body")
)

// Limits, in bytes, on what of the server's error text reaches an error
// message; a longer text is cut on a character boundary, the cut marked
// (textclip.Clip).
const (
	maxDescriptionLen = 200
	maxCodeLen        = 64
)

// parseToken reads a 2xx body. A 2xx body that is an RFC 6749 §5.2 error
// (some servers answer errors with 200) is a Rejected error. promised is
// expires_in, or 0 when the server left it out.
func parseToken(body []byte, requestedScope string, issuedAt time.Time) (tok domain.Token, promised time.Duration, _ error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil || m == nil {
		// The decoder's message may quote the body; it is not kept.
		return domain.Token{}, 0, ErrNotJSON
	}
	access, _ := jsonString(m["access_token"])
	if access == "" {
		if code, desc, ok := parseOAuthError(body); ok {
			return domain.Token{}, 0, &domain.TokenServiceError{Kind: domain.Rejected, Code: code, Description: desc}
		}
		return domain.Token{}, 0, ErrNoAccessToken
	}
	tokenType, _ := jsonString(m["token_type"])
	tok = domain.Token{
		AccessToken: access,
		TokenType:   domain.NormalizeTokenType(tokenType),
		Scope:       jsonScope(m["scope"]),
		IssuedAt:    issuedAt,
	}
	if tok.Scope == "" {
		// RFC 6749 §5.1: scope may be left out when it is what was asked.
		tok.Scope = requestedScope
	}

	promised, present, err := parseExpiresIn(m["expires_in"])
	if err != nil {
		return domain.Token{}, 0, err
	}
	exp, hasExp := jwtExpiry(access)
	switch {
	case present && hasExp:
		// A JWT's exp is what resource servers check. Token services write
		// it in whole seconds, rounded down, so it is often earlier than
		// request start + expires_in; and a token service whose clock is
		// wrong writes an exp far from it, even one in the past. The
		// earlier of the two wins in every case, or a token would be served
		// after its exp. Issue refuses a token that leaves too little.
		tok.ExpiresAt = issuedAt.Add(promised)
		if exp.Before(tok.ExpiresAt) {
			tok.ExpiresAt = exp
		}
	case present:
		tok.ExpiresAt = issuedAt.Add(promised)
	case hasExp:
		tok.ExpiresAt = exp
	default:
		return domain.Token{}, 0, ErrNoExpiry
	}
	return tok, promised, nil
}

// parseExpiresIn reads expires_in, a JSON number or, as some servers send
// it, a numeric string. present is false when it is absent or null.
func parseExpiresIn(raw json.RawMessage) (d time.Duration, present bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return 0, false, nil
	}
	text := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &text) != nil {
			return 0, true, fmt.Errorf("%w: expires_in is not a number", ErrBadExpiry)
		}
		text = strings.TrimSpace(text)
	}
	secs, perr := strconv.ParseFloat(text, 64)
	switch {
	case perr != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || strings.ContainsAny(text, "xXpP"):
		return 0, true, fmt.Errorf("%w: expires_in is not a number", ErrBadExpiry)
	case secs <= 0:
		return 0, true, fmt.Errorf("%w: expires_in is not positive", ErrBadExpiry)
	case secs >= float64(math.MaxInt64/int64(time.Second)):
		return 0, true, fmt.Errorf("%w: expires_in is out of range", ErrBadExpiry)
	}
	return time.Duration(secs * float64(time.Second)), true, nil
}

// jwtExpiry reads the exp claim of a JWT without checking its signature.
// jwtcache is the token's holder, not its audience: it has no business
// deciding whether the token is genuine (the resource servers do that) and
// usually has no key to do it with. It only needs to know when to stop
// handing the token out, and a forged exp could only make a forged token
// look short- or long-lived to the party that forged it.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == "" {
		return time.Time{}, false
	}
	exp, err := claims.Exp.Float64()
	if err != nil || math.IsNaN(exp) || math.IsInf(exp, 0) || exp <= 0 || exp >= math.MaxInt64/float64(time.Second) {
		return time.Time{}, false
	}
	sec, frac := math.Modf(exp)
	return time.Unix(int64(sec), int64(frac*float64(time.Second))), true
}

// parseOAuthError reads an RFC 6749 §5.2 error body: a JSON object with a
// non-empty string "error". Both texts are cleaned of control characters;
// Issue redacts and shortens them.
// error_uri is not kept: domain.TokenServiceError has no place for it and
// it adds nothing to a log line.
func parseOAuthError(body []byte) (code, description string, ok bool) {
	var e struct {
		Error       json.RawMessage `json:"error"`
		Description json.RawMessage `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", "", false
	}
	code, _ = jsonString(e.Error)
	if code = clean(code); code == "" {
		return "", "", false
	}
	description, _ = jsonString(e.Description)
	return code, clean(description), true
}

// parseRetryAfter reads a Retry-After header, delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3), as a duration from now, at most
// domain.MaxRetryAfter (a longer wait, even one past the range of an
// int64, is clamped to it: one answer must not silence a service name for
// days); 0 when absent, malformed or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		// ErrRange: all digits, more than fit.
		if err != nil || secs > uint64(domain.MaxRetryAfter/time.Second) {
			return domain.MaxRetryAfter
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), domain.MaxRetryAfter)
	}
	return 0
}

// jsonString returns raw as a string if it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonScope reads scope as RFC 6749 has it, a space-separated string, or as
// an array of strings, which some servers send.
func jsonScope(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return s
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, " ")
	}
	return ""
}

// clean drops control characters and invalid UTF-8 from server-supplied
// text, so that it cannot forge log lines.
func clean(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s))
}

// Package redact makes configured addresses fit for an error message, a
// log line or the unauthenticated /health: a token endpoint's query may
// carry a secret (some token services take a code or a key there), and a
// URL's user info is a credential. Every place that shows a token-service
// or issuer URL shows URL(it), so that there is one rule.
package redact

import (
	"errors"
	"net/url"
)

// Unparseable stands for a URL that does not parse: its text is not shown,
// since it may be a secret pasted into the wrong field.
const Unparseable = "(unparseable URL)"

// URL is raw without its user info, query and fragment: scheme://host/path
// for the absolute URLs jwtcache is configured with, what is left of
// anything else. An empty raw stays empty; one that does not parse is
// Unparseable.
func URL(raw string) string {
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return Unparseable
	}
	out := url.URL{Scheme: u.Scheme, Opaque: u.Opaque, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return out.String()
}

// URLError is err, an error of net/http's client (a *url.Error, whose
// message repeats the whole URL), with that URL cut by URL. The result is
// a *url.Error with the same Op and cause, so errors.Is, errors.As,
// Timeout and Temporary see what they saw before. An err that merely wraps
// a *url.Error is replaced by the cut *url.Error alone, since its own text
// repeats the URL too; an err without one is returned as it is.
func URLError(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	return &url.Error{Op: ue.Op, URL: URL(ue.URL), Err: ue.Err}
}

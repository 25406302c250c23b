package tokenservice

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/internal/textclip"
)

// ErrCachedRejection is wrapped by the error Issue returns from the negative
// cache: a copy of the token service's recent definitive refusal
// (invalid_client, unauthorized_client, invalid_scope, invalid_request,
// invalid_grant or unsupported_grant_type) of the same client, returned
// without asking again.
var ErrCachedRejection = errors.New("cached answer: the token service rejected this client moments ago and is not asked again yet")

// client is who asks for a token, where and for what, with the negative
// cache of its rejections. Its configuration is read-only after newClient.
type client struct {
	endpoint   string
	id, secret string
	authMethod string
	// key signs private_key_jwt assertions when it is not read from a
	// file (tests); nil otherwise.
	key *signingKey
	// kid is the assertions' kid header, if any.
	kid      string
	scope    string
	audience string
	grant    string
	timeout  time.Duration
	// spanName and spanAttrs start the span of each token request (see
	// spanStart).
	spanName  string
	spanAttrs []attribute.KeyValue

	// mu guards rejected and until: when until is after now, rejected (the
	// last definitive refusal, finished) is
	// returned instead of making a request.
	mu       sync.Mutex
	rejected domain.TokenServiceError
	until    time.Time
	// rejectedGen is the credential generation rejected: a rotated
	// credential is not refused for its predecessor's mistake.
	rejectedGen uint64

	// cr is how the client reaches its token service when that takes more
	// than a URL and fixed credentials (files, discovery, a client
	// certificate); nil otherwise. endpoint is empty with discovery.
	cr *clientReach
}

// newClient checks o, a complete client (defaults applied, merged), and
// opens its credential files and discovery through r. Errors name the
// field, never a secret.
func newClient(o ClientOptions, r *reach) (*client, error) {
	if strings.TrimSpace(o.ClientID) == "" {
		return nil, errors.New("client id is empty")
	}
	if o.Timeout < 0 {
		return nil, fmt.Errorf("timeout %v is negative", o.Timeout)
	}
	c := &client{
		id:         o.ClientID,
		secret:     o.ClientSecret,
		authMethod: o.AuthMethod,
		scope:      o.Scope,
		audience:   o.Audience,
		grant:      o.GrantType,
		timeout:    o.Timeout,
	}
	if c.grant == "" {
		c.grant = DefaultGrantType
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if err := r.attach(c, o); err != nil {
		return nil, err
	}
	// With discovery the endpoint is not known yet, and the span is named
	// after the method alone.
	c.spanName, c.spanAttrs = c.spanStart()
	return c, nil
}

// checkEndpoint checks an absolute http or https URL of what (the token
// service URL, the issuer URL, a discovered token endpoint).
func checkEndpoint(raw, what string) (*url.URL, error) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return nil, fmt.Errorf("%s is empty", what)
	case err != nil:
		// url.Parse errors quote the input, which might be a secret
		// pasted into the wrong field: say only that it does not parse.
		return nil, fmt.Errorf("%s does not parse", what)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("%s must be absolute http or https, got scheme %q", what, u.Scheme)
	case u.Host == "":
		return nil, fmt.Errorf("%s has no host", what)
	case u.User != nil:
		return nil, fmt.Errorf("%s must not hold credentials; use the client id and secret", what)
	case u.Fragment != "":
		// RFC 6749 §3.2.
		return nil, fmt.Errorf("%s must not have a fragment", what)
	}
	return u, nil
}

// form is the request body, with a fresh client assertion for
// private_key_jwt. Only parameters with a value are sent: an empty scope=
// is not the same as no scope to every server.
func (c *client) form(now time.Time) (body, assertion string, err error) {
	v := url.Values{"grant_type": {c.grant}}
	if c.scope != "" {
		v.Set("scope", c.scope)
	}
	if c.audience != "" {
		v.Set("audience", c.audience)
		v.Set("resource", c.audience)
	}
	switch c.method() {
	case AuthClientSecretPost:
		v.Set("client_id", c.id)
		if secret := c.currentSecret(); secret != "" {
			v.Set("client_secret", secret)
		}
	case AuthPrivateKeyJWT:
		if assertion, err = c.assertion(now); err != nil {
			return "", "", err
		}
		// RFC 7521 §4.2 makes client_id optional here; some servers (Entra
		// ID among them) require it.
		v.Set("client_id", c.id)
		v.Set("client_assertion_type", ClientAssertionType)
		v.Set("client_assertion", assertion)
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		// RFC 8705 §2: the certificate authenticates; client_id says
		// whose it is.
		v.Set("client_id", c.id)
	}
	return v.Encode(), assertion, nil
}

// finish readies the server-supplied text of err for an error message:
// every credential sent removed (a server that echoes the request into
// error_description must not put one into jwtcache's errors, logs, /health
// or 502 bodies), then shortened. Redacting before shortening is what
// keeps a cut from leaving half a secret behind.
func (c *client) finish(err error, assertion string) error {
	var tse *domain.TokenServiceError
	if !errors.As(err, &tse) {
		return err
	}
	if creds := c.sentCredentials(assertion); len(creds) > 0 {
		pairs := make([]string, 0, 4*len(creds))
		for _, cred := range creds {
			pairs = append(pairs, cred, "[redacted]", url.QueryEscape(cred), "[redacted]")
		}
		r := strings.NewReplacer(pairs...)
		tse.Code, tse.Description = r.Replace(tse.Code), r.Replace(tse.Description)
	}
	tse.Code = textclip.Clip(tse.Code, maxCodeLen)
	tse.Description = textclip.Clip(tse.Description, maxDescriptionLen)
	return err
}

// sentCredentials are the texts that give away a credential c may have
// sent, longest form first (a replacer tries them in order): each known
// secret, the base64 of its Basic Authorization header (with and without
// padding), and the client assertion with, on its own, its signature,
// which is what makes it a credential. finish removes them raw and
// URL-escaped.
func (c *client) sentCredentials(assertion string) []string {
	var out []string
	for _, s := range c.knownSecrets() {
		basic := base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(c.id) + ":" + url.QueryEscape(s)))
		out = append(out, basic, strings.TrimRight(basic, "="), s)
	}
	if assertion != "" {
		out = append(out, assertion)
		if i := strings.LastIndexByte(assertion, '.'); i >= 0 && i+1 < len(assertion) {
			out = append(out, assertion[i+1:])
		}
	}
	return out
}

// definitiveCodes are the RFC 6749 §5.2 errors that refuse the request
// itself: the client's credentials or rights, or the scope, audience or
// grant it asks for. A client sends the same request every time, so asking
// again cannot help until someone changes the configuration. Errors that
// say "later" (temporarily_unavailable, server_error, slow_down) are not
// among them, nor codes RFC 6749 does not define.
var definitiveCodes = map[string]bool{
	"invalid_client":         true,
	"unauthorized_client":    true,
	"invalid_scope":          true,
	"invalid_request":        true,
	"invalid_grant":          true,
	"unsupported_grant_type": true,
}

// clientRejected reports whether err is a definitive refusal of the
// client's request (definitiveCodes).
func clientRejected(err error) (*domain.TokenServiceError, bool) {
	var tse *domain.TokenServiceError
	if !errors.As(err, &tse) || tse.Kind != domain.Rejected {
		return nil, false
	}
	return tse, definitiveCodes[tse.Code]
}

// remember keeps err for ttl when it rejects the client's credentials of
// generation gen (see credentialGeneration).
func (c *client) remember(err error, now time.Time, ttl time.Duration, gen uint64) {
	tse, ok := clientRejected(err)
	if !ok || ttl <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected = *tse
	c.rejected.Err = nil
	c.until = now.Add(ttl)
	c.rejectedGen = gen
}

// rejection is a copy of the remembered rejection, for service, while it
// lasts and the credentials are still those of generation gen, the ones
// it refused; nil otherwise.
func (c *client) rejection(service string, now time.Time, gen uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !now.Before(c.until) || c.rejectedGen != gen {
		return nil
	}
	e := c.rejected
	e.Service = service
	left := (c.until.Sub(now) + time.Second - 1).Truncate(time.Second)
	e.Err = fmt.Errorf("%w (for %s more)", ErrCachedRejection, left)
	return &e
}

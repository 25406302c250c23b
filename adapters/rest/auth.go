package rest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gin-gonic/gin"

	"github.com/jwtcache/jwtcache/adapters/rest/restapi"
	"github.com/jwtcache/jwtcache/domain"
)

// APIKeyHeader is the header that may carry an API key instead of
// "Authorization: Bearer <key>".
const APIKeyHeader = "X-API-Key"

// MinAPIKeyLen is the shortest API key NewAuth accepts.
const MinAPIKeyLen = 16

// authRealm is the realm of the WWW-Authenticate challenge.
const authRealm = "jwtcache"

// APIKey is one key allowed to call the protected endpoints.
type APIKey struct {
	// Key is the secret the client presents. At least MinAPIKeyLen bytes.
	Key string
	// Services limits the key to these service names; empty means every
	// service.
	Services []string
}

// AuthOptions configures NewAuth.
type AuthOptions struct {
	// Keys are the accepted API keys; none means no protection (NewAuth
	// returns nil and says so in the log).
	Keys []APIKey
	// ProtectStatus makes GET /status, /status/{serviceName}, /statistics,
	// /events and /metrics require a key too. /health, /livez and /readyz
	// never do: probes call them; nor does the console's page, which shows
	// nothing without a key.
	ProtectStatus bool
	// Logger receives the start-up line and, at debug level, each refused
	// request (never a presented key). Optional: slog.Default().
	Logger *slog.Logger
	// FileKeys, when set, supplies more keys that may change while the
	// server runs (a mounted file read again when it changes): it returns
	// the keys and a generation that changes whenever they do. It is
	// called on each protected request, so it must be cheap; the keys are
	// digested again only when the generation changes. Optional.
	FileKeys func() ([]APIKey, uint64)
}

// Auth is the API key check of the REST API, given to NewHandler in
// Options.Auth. When keys are configured, every endpoint that hands out a
// token or changes the cache (token, bearer, refresh, evict) needs
// "Authorization: Bearer <key>" or "X-API-Key: <key>": a missing or unknown
// key is answered 401 unauthorized with a WWW-Authenticate challenge, a
// key limited to other services 403 forbidden. The status, statistics and
// health endpoints never reveal a token and stay open unless ProtectStatus
// (which also covers /metrics); health, the probes and the OpenAPI document
// always stay open.
//
// Keys are compared in constant time: the presented key and every
// configured one are reduced to HMAC-SHA256 digests under a per-process
// random key, and the presented digest is compared with each of them,
// without stopping at a match, so that neither the keys' contents nor
// their lengths show in the response time.
//
// A nil *Auth protects nothing; its counters are zero. Auth is safe for
// concurrent use.
type Auth struct {
	// macKey keys the digests; random, so that they say nothing outside
	// this process.
	macKey []byte
	// static are Options.Keys; set is static plus the file's keys of
	// generation set.gen, replaced whole when the file changes.
	static   []authKey
	set      atomic.Pointer[keySet]
	fileKeys func() ([]APIKey, uint64)
	reload   sync.Mutex
	// protected are the route patterns (gin's FullPath) needing a key.
	protected map[string]bool
	log       *slog.Logger

	failures, forbidden atomic.Uint64
}

// keySet is every key accepted at one time.
type keySet struct {
	keys []authKey
	gen  uint64
}

// authKey is a configured key as Auth holds it: its digest, not the key.
type authKey struct {
	digest [sha256.Size]byte
	// services is nil for a key valid for every service.
	services []string
}

// NewAuth returns the check for opts.Keys, or nil, after logging a warning
// that the token endpoints are open to anyone who can reach the port, when
// there is none. Its error names a bad key by its position, never its
// value.
func NewAuth(opts AuthOptions) (*Auth, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if len(opts.Keys) == 0 && opts.FileKeys == nil {
		log.Warn("rest: no API key configured (JWT_API_KEYS, JWT_API_KEYS_FILE): the token, bearer, refresh and evict endpoints " +
			"are open to every client that can reach this port")
		return nil, nil
	}
	a := &Auth{macKey: make([]byte, 32), log: log, protected: map[string]bool{}, fileKeys: opts.FileKeys}
	_, _ = rand.Read(a.macKey) // crypto/rand.Read never fails (it crashes the program instead).
	var err error
	if a.static, err = a.digestAll(opts.Keys, "API key"); err != nil {
		return nil, err
	}
	set := &keySet{keys: a.static}
	if a.fileKeys != nil {
		keys, gen := a.fileKeys()
		file, err := a.digestAll(keys, "API key file: key")
		if err != nil {
			return nil, err
		}
		set = &keySet{keys: slices.Concat(a.static, file), gen: gen}
	}
	a.set.Store(set)
	for _, p := range []string{"/token/:", "/bearer/:", "/refresh/:", "/evict/:"} {
		a.protected[BasePath+p+paramService] = true
	}
	if opts.ProtectStatus {
		for _, p := range []string{"/status/:" + paramService, "/status", "/statistics", EventsPath} {
			a.protected[BasePath+p] = true
		}
		// The metrics name every cached service, as /status does.
		a.protected[MetricsPath] = true
	}
	log.Info("rest: API keys required", "keys", len(set.keys), "protectStatus", opts.ProtectStatus, "reloaded", a.fileKeys != nil)
	return a, nil
}

// digestAll checks keys and digests them; errors name a key by position.
func (a *Auth) digestAll(keys []APIKey, what string) ([]authKey, error) {
	out := make([]authKey, 0, len(keys))
	for i, k := range keys {
		if len(k.Key) < MinAPIKeyLen {
			return nil, fmt.Errorf("rest: %s %d is shorter than %d characters", what, i+1, MinAPIKeyLen)
		}
		for _, s := range k.Services {
			if err := domain.ValidateServiceName(s); err != nil {
				return nil, fmt.Errorf("rest: %s %d: %w", what, i+1, err)
			}
		}
		ak := authKey{digest: a.digest(k.Key)}
		if len(k.Services) > 0 {
			ak.services = slices.Clone(k.Services)
		}
		out = append(out, ak)
	}
	return out, nil
}

// keys are the keys accepted now: the file's keys are digested again when
// their generation changed. A file key that is not acceptable leaves the
// previous set in use.
func (a *Auth) keys() []authKey {
	set := a.set.Load()
	if a.fileKeys == nil {
		return set.keys
	}
	keys, gen := a.fileKeys()
	if gen == set.gen {
		return set.keys
	}
	a.reload.Lock()
	defer a.reload.Unlock()
	if set = a.set.Load(); gen == set.gen {
		return set.keys
	}
	file, err := a.digestAll(keys, "API key file: key")
	if err != nil {
		a.log.Warn("rest: API keys file changed but is not usable; keeping the previous keys", "err", err)
		a.set.Store(&keySet{keys: set.keys, gen: gen})
		return set.keys
	}
	set = &keySet{keys: slices.Concat(a.static, file), gen: gen}
	a.set.Store(set)
	a.log.Info("rest: API keys file changed; using its new keys", "keys", len(set.keys))
	return set.keys
}

// Failures is how many requests were refused for a missing or unknown key
// (401) since NewAuth.
func (a *Auth) Failures() uint64 {
	if a == nil {
		return 0
	}
	return a.failures.Load()
}

// Forbidden is how many requests were refused because their key is not
// allowed the service asked for (403) since NewAuth.
func (a *Auth) Forbidden() uint64 {
	if a == nil {
		return 0
	}
	return a.forbidden.Load()
}

func (a *Auth) digest(key string) [sha256.Size]byte {
	m := hmac.New(sha256.New, a.macKey)
	m.Write([]byte(key))
	var d [sha256.Size]byte
	m.Sum(d[:0])
	return d
}

// match reports whether presented is one of the keys, and whether one such
// key is allowed service ("" for the endpoints without one). It looks at
// every key whatever the outcome, and branches on nothing derived from a
// key, so that its duration does not depend on which key, if any,
// matches.
func (a *Auth) match(presented, service string) (known, allowed bool) {
	d := a.digest(presented)
	var k, ok int
	keys := a.keys()
	for i := range keys {
		eq := subtle.ConstantTimeCompare(d[:], keys[i].digest[:])
		k |= eq
		ok |= eq & keys[i].allows(service)
	}
	return k == 1, ok == 1
}

// allows is 1 when the key may be used for service.
func (k *authKey) allows(service string) int {
	if k.services == nil || service == "" || slices.Contains(k.services, service) {
		return 1
	}
	return 0
}

// errNoKey is why a request without a usable key header is refused.
var errNoKey = errors.New("no API key presented")

// presentedKey is the key of the request: X-API-Key when present, else an
// Authorization Bearer credential (RFC 6750 §2.1; the scheme in any case).
func presentedKey(h http.Header) (string, error) {
	if vals := h.Values(APIKeyHeader); len(vals) > 0 {
		if len(vals) > 1 {
			return "", errors.New("more than one " + APIKeyHeader + " header")
		}
		return strings.TrimSpace(vals[0]), nil
	}
	scheme, cred, ok := strings.Cut(strings.TrimSpace(h.Get("Authorization")), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", errNoKey
	}
	return strings.TrimSpace(cred), nil
}

// authenticate is the middleware NewHandler installs for a non-nil Auth.
func (a *api) authenticate(c *gin.Context) {
	auth := a.auth
	route := c.FullPath()
	if !auth.protected[route] {
		return
	}
	service := c.Param(paramService)
	key, err := presentedKey(c.Request.Header)
	known, allowed := auth.match(key, service)
	ctx := c.Request.Context()
	switch {
	case err != nil || key == "" || !known:
		auth.failures.Add(1)
		reason := "unknown API key"
		if err != nil {
			reason = err.Error()
		} else if key == "" {
			reason = errNoKey.Error()
		}
		auth.log.DebugContext(ctx, "rest: request refused", "route", route, "service", restapi.Clip(service),
			"status", http.StatusUnauthorized, "reason", reason, "remote", c.Request.RemoteAddr)
		c.Writer.Header().Set("WWW-Authenticate", `Bearer realm="`+authRealm+`"`)
		a.writeError(c, service, apiError{status: http.StatusUnauthorized, code: restapi.CodeUnauthorized,
			message: "a valid API key is required: send Authorization: Bearer <key> or " + APIKeyHeader + ": <key>"})
		c.Abort()
	case !allowed:
		auth.forbidden.Add(1)
		auth.log.DebugContext(ctx, "rest: request refused", "route", route, "service", restapi.Clip(service),
			"status", http.StatusForbidden, "reason", "API key not allowed this service", "remote", c.Request.RemoteAddr)
		a.writeError(c, service, apiError{status: http.StatusForbidden, code: restapi.CodeForbidden,
			message: "this API key may not be used for this service"})
		c.Abort()
	}
}

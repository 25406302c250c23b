// Package devissuer is a small but real OAuth2 token service for
// development and tests: a client-credentials token endpoint (RFC 6749 §4.4)
// that signs ES256 JWTs, publishes its key as a JWKS, counts the requests it
// gets and can be told to fail or be slow.
//
// jwtcache runs it in-process when no token service URL is configured, and
// alone as `jwtcache dev-issuer`. It is not meant to guard anything: it has
// one client, keeps its key in memory and forgets it on exit. The client
// authenticates with its secret (client_secret_basic or _post) or, when
// given its public key, with private_key_jwt, so that every client
// authentication method jwtcache speaks can be tested against it.
package devissuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/ports"
)

// Paths the Handler serves.
const (
	// TokenPath is the token endpoint (POST).
	TokenPath = "/oauth/token"
	// JWKSPath serves the signing key as a JSON Web Key Set (GET).
	JWKSPath = "/.well-known/jwks.json"
	// StatsPath serves the request counters as JSON (GET).
	StatsPath = "/stats"
)

// Defaults applied by New to zero Options fields.
const (
	// DefaultTokenLifetime is the lifetime of issued tokens.
	DefaultTokenLifetime = time.Hour
	// DefaultIssuer is the iss claim of issued tokens.
	DefaultIssuer = "jwtcache-dev-issuer"
)

// maxFormBytes bounds a token request body.
const maxFormBytes = 64 << 10

// Options configures a Server. ClientID is required, and ClientSecret or
// ClientPublicKey (or both).
type Options struct {
	// ClientID is the one client the server knows. Required.
	ClientID string
	// ClientSecret is its secret, for client_secret_basic and
	// client_secret_post; see GenerateSecret. Empty turns those methods
	// off.
	ClientSecret string
	// ClientPublicKey, if set, lets the client authenticate with
	// private_key_jwt (RFC 7523 §2.2): an *rsa.PublicKey for RS256
	// assertions or an *ecdsa.PublicKey on P-256 for ES256. The server
	// checks the signature, iss and sub (the client id), aud (this token
	// endpoint's URL as the request reached it), an exp in the future and
	// at most MaxAssertionLifetime away, and a jti never seen before.
	ClientPublicKey crypto.PublicKey
	// TokenLifetime is how long issued tokens live, in whole seconds (at
	// least one); default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Issuer is the iss claim; default DefaultIssuer.
	Issuer string
	// Clock stamps iat and exp. Optional; default the system clock.
	Clock ports.Clock
	// Logger receives one line per token request, never a secret or a
	// token. Optional; default slog.Default().
	Logger *slog.Logger
}

// Server is the development token service. Its Handler, counters and fault
// hooks are safe for concurrent use.
type Server struct {
	clientID, clientSecret string
	// clientKey verifies private_key_jwt assertions; nil when that method
	// is off.
	clientKey crypto.PublicKey
	// seen remembers the jti of accepted assertions until they expire.
	seen    jtiSet
	issuer  string
	clock   ports.Clock
	log     *slog.Logger
	key     *ecdsa.PrivateKey
	jwk     JWK
	handler http.Handler

	// lifetime is the token lifetime in nanoseconds, a whole number of
	// seconds, at least one second.
	lifetime atomic.Int64

	tokenRequests, issued, rejected, probes atomic.Int64

	faults faults

	// mu guards servers, the http.Servers started by ListenAndServe that
	// Close still has to shut down, each with the func that stops its
	// context watch.
	mu      sync.Mutex
	servers map[*http.Server]func() bool
	serving sync.WaitGroup
}

// New returns a Server with a freshly generated ECDSA P-256 signing key.
func New(opts Options) (*Server, error) {
	switch {
	case opts.ClientID == "":
		return nil, errors.New("devissuer: client id is empty")
	case opts.ClientSecret == "" && opts.ClientPublicKey == nil:
		return nil, errors.New("devissuer: client secret and client public key are both empty")
	}
	if err := checkClientKey(opts.ClientPublicKey); err != nil {
		return nil, err
	}
	lifetime := opts.TokenLifetime
	if lifetime == 0 {
		lifetime = DefaultTokenLifetime
	}
	if err := checkLifetime(lifetime); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("devissuer: generate signing key: %w", err)
	}
	jwk, err := publicJWK(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("devissuer: encode signing key: %w", err)
	}
	s := &Server{
		clientID:     opts.ClientID,
		clientSecret: opts.ClientSecret,
		clientKey:    opts.ClientPublicKey,
		seen:         jtiSet{m: map[string]time.Time{}},
		issuer:       opts.Issuer,
		clock:        opts.Clock,
		log:          opts.Logger,
		key:          key,
		jwk:          jwk,
		servers:      map[*http.Server]func() bool{},
	}
	if s.issuer == "" {
		s.issuer = DefaultIssuer
	}
	if s.clock == nil {
		s.clock = ports.SystemClock
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.lifetime.Store(int64(lifetime))
	s.faults.reset()

	mux := http.NewServeMux()
	mux.HandleFunc("POST "+TokenPath, s.serveToken)
	mux.HandleFunc("GET "+JWKSPath, s.serveJWKS)
	mux.HandleFunc("GET "+StatsPath, s.serveStats)
	s.handler = mux
	return s, nil
}

func checkLifetime(d time.Duration) error {
	if d < time.Second || d%time.Second != 0 {
		return fmt.Errorf("devissuer: token lifetime %v is not a whole number of seconds of at least 1s", d)
	}
	return nil
}

// Handler serves TokenPath, JWKSPath and StatsPath.
func (s *Server) Handler() http.Handler { return s.handler }

// Issuer is the iss claim of the tokens the server signs.
func (s *Server) Issuer() string { return s.issuer }

// PublicKey is the key that verifies the server's tokens.
func (s *Server) PublicKey() *ecdsa.PublicKey { return &s.key.PublicKey }

// SetTokenLifetime changes the lifetime of tokens issued from now on; d
// must be a whole number of seconds, at least one.
func (s *Server) SetTokenLifetime(d time.Duration) error {
	if err := checkLifetime(d); err != nil {
		return err
	}
	s.lifetime.Store(int64(d))
	return nil
}

// Stats counts the requests to the token endpoint. Once every request has
// been answered, TokenRequests == Issued + Rejected.
type Stats struct {
	// TokenRequests is every POST to the token endpoint.
	TokenRequests int64 `json:"tokenRequests"`
	// Issued is the requests answered with a token.
	Issued int64 `json:"issued"`
	// Rejected is the requests answered with anything else, injected
	// failures and clients that hung up included.
	Rejected int64 `json:"rejected"`
	// Probes are the POSTs without any client authentication (no Basic
	// header, client_id, client_secret or client_assertion): what
	// jwtcache's health probe sends. They are answered 401 invalid_client
	// (or with an injected failure, without using up FailNext) and are not
	// token requests.
	Probes int64 `json:"probes"`
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	return Stats{TokenRequests: s.tokenRequests.Load(), Issued: s.issued.Load(), Rejected: s.rejected.Load(), Probes: s.probes.Load()}
}

// Requests is Stats().TokenRequests.
func (s *Server) Requests() int64 { return s.tokenRequests.Load() }

// GenerateSecret returns a random client secret: 256 bits, base64url
// without padding, so it needs no escaping anywhere.
func GenerateSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it crashes the program instead).
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope,omitempty"`
}

func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	// The body is read before the delay: net/http notices a client that
	// hangs up (and cancels r.Context()) only once the body is consumed.
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	formErr := r.ParseForm()
	if formErr == nil && isProbe(r) {
		s.serveProbe(w, r)
		return
	}
	s.tokenRequests.Add(1)
	if !s.faults.wait(r.Context()) {
		s.reject(r, "client gave up during the injected delay")
		return
	}
	if f, ok := s.faults.take(); ok {
		s.reject(r, "injected failure")
		writeFailure(w, f)
		return
	}
	if formErr != nil {
		s.fail(w, r, http.StatusBadRequest, "invalid_request", "the request body is not a readable form")
		return
	}
	form := r.PostForm
	for _, p := range []string{"grant_type", "scope", "audience", "resource", "client_id", "client_secret", "client_assertion", "client_assertion_type"} {
		if len(form[p]) > 1 {
			// RFC 6749 §3.2.
			s.fail(w, r, http.StatusBadRequest, "invalid_request", "parameter "+p+" is repeated")
			return
		}
	}

	id, secret, basic := r.BasicAuth()
	asserted := form.Has("client_assertion") || form.Has("client_assertion_type")
	methods := 0
	for _, used := range []bool{basic, form.Has("client_secret"), asserted} {
		if used {
			methods++
		}
	}
	switch {
	case methods > 1:
		// RFC 6749 §2.3: one authentication method per request.
		s.fail(w, r, http.StatusBadRequest, "invalid_request", "more than one client authentication method")
		return
	case asserted:
		if err := s.checkAssertion(r, form); err != nil {
			s.failClientBecause(w, r, err.Error())
			return
		}
	case basic:
		if !s.basicClient(id, secret) {
			s.failClient(w, r)
			return
		}
	case form.Has("client_id"):
		if !s.isClient(form.Get("client_id"), form.Get("client_secret")) {
			s.failClient(w, r)
			return
		}
	default:
		s.failClient(w, r)
		return
	}

	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		s.fail(w, r, http.StatusBadRequest, "invalid_request", "grant_type is missing")
		return
	default:
		s.fail(w, r, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}

	scope := form.Get("scope")
	audience := form.Get("audience")
	if audience == "" {
		audience = form.Get("resource")
	}
	lifetime := time.Duration(s.lifetime.Load())
	now := s.clock.Now()
	claims := map[string]any{
		"iss":       s.issuer,
		"sub":       s.clientID,
		"client_id": s.clientID,
		"iat":       now.Unix(),
		"exp":       now.Add(lifetime).Unix(),
		"jti":       newJTI(),
	}
	if scope != "" {
		claims["scope"] = scope
	}
	if audience != "" {
		claims["aud"] = audience
	}
	token, err := s.sign(claims)
	if err != nil {
		s.log.Error("devissuer: sign token", "error", err)
		s.fail(w, r, http.StatusInternalServerError, "server_error", "could not sign the token")
		return
	}
	s.issued.Add(1)
	s.log.Debug("devissuer: token issued", "client_id", s.clientID, "scope", scope,
		"audience", audience, "jti", claims["jti"], "expires_in", int64(lifetime/time.Second))
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken: token,
		TokenType:   "Bearer",
		ExpiresIn:   int64(lifetime / time.Second),
		Scope:       scope,
	})
}

// isProbe reports whether r, its form parsed, carries no client
// authentication at all.
func isProbe(r *http.Request) bool {
	if _, _, basic := r.BasicAuth(); basic || r.Header.Get("Authorization") != "" {
		return false
	}
	for _, p := range []string{"client_id", "client_secret", "client_assertion", "client_assertion_type"} {
		if r.PostForm.Has(p) {
			return false
		}
	}
	return true
}

// serveProbe answers a request without client authentication as the
// token endpoint would (401 invalid_client), down or slow when faults say
// so, and counts it as a probe only.
func (s *Server) serveProbe(w http.ResponseWriter, r *http.Request) {
	s.probes.Add(1)
	if !s.faults.wait(r.Context()) {
		return
	}
	if f, ok := s.faults.peek(); ok {
		writeFailure(w, f)
		return
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+s.issuer+`"`)
	writeJSON(w, http.StatusUnauthorized, oauthError{Error: "invalid_client", Description: "client authentication failed"})
}

// basicClient checks HTTP Basic credentials. RFC 6749 §2.3.1 has the client
// form-url-encode the id and secret; credentials that only match as sent
// are accepted too, so that a hand-written `curl -u id:secret` works with
// any secret.
func (s *Server) basicClient(id, secret string) bool {
	if did, err := url.QueryUnescape(id); err == nil {
		if dsecret, err := url.QueryUnescape(secret); err == nil && s.isClient(did, dsecret) {
			return true
		}
	}
	return s.isClient(id, secret)
}

// isClient compares in constant time, so that response timing does not
// tell how much of a guessed secret was right. With no secret configured
// nothing matches, not even an empty secret.
func (s *Server) isClient(id, secret string) bool {
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.clientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.clientSecret))
	return idOK&secretOK == 1 && s.clientSecret != ""
}

// failClient answers RFC 6749 §5.2 invalid_client. The presented
// credentials are not logged: a secret typed into the id field would be.
func (s *Server) failClient(w http.ResponseWriter, r *http.Request) {
	s.failClientBecause(w, r, "")
}

// failClientBecause is failClient saying why, for the reasons that hold no
// credential (those of a rejected client assertion).
func (s *Server) failClientBecause(w http.ResponseWriter, r *http.Request, reason string) {
	desc := "client authentication failed"
	if reason != "" {
		desc += ": " + reason
	}
	w.Header().Set("WWW-Authenticate", `Basic realm="`+s.issuer+`"`)
	s.fail(w, r, http.StatusUnauthorized, "invalid_client", desc)
}

// fail answers an RFC 6749 §5.2 error and counts it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, status int, code, description string) {
	s.reject(r, code)
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

func (s *Server) reject(r *http.Request, reason string) {
	s.rejected.Add(1)
	s.log.Info("devissuer: token request rejected", "reason", reason, "remote", r.RemoteAddr)
}

type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeFailure(w http.ResponseWriter, f Failure) {
	if f.RetryAfter > 0 {
		secs := int64((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	if f.Error == "" {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, http.StatusText(f.Status), f.Status)
		return
	}
	writeJSON(w, f.Status, oauthError{Error: f.Error, Description: f.Description})
}

// writeJSON writes v with the RFC 6749 §5.1 headers: token responses must
// not be cached by anything on the way.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(JWKS{Keys: []JWK{s.jwk}})
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s.Stats())
}

func newJTI() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

package tokenservice

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/internal/privatekey"
	"github.com/jwtcache/jwtcache/ports"
)

// Reach is what the clients of an Issuer share to reach their token
// services beyond a URL and a fixed secret: the CAs they trust, how often
// credential files are looked at, and how issuers' discovery documents are
// fetched. Every field is optional.
//
// # Credentials in files
//
// ClientSecretFile, PrivateKeyFile and ClientCertFile/ClientCertKeyFile
// are read at New and again when they change (see package credfile): the
// next token request uses the new value, without a restart. A request the
// token service refuses with invalid_client makes the client look at its
// files at once, whatever CredentialCheckInterval says; when they changed,
// the request is made once more with the new credentials, so that a
// rotation never shows as a failure. The negative cache belongs to the
// credentials it refused: new ones are tried at once. A file that becomes
// unreadable, empty or malformed leaves the last good value in use, and
// Issuer.CredentialsHealth reports it.
//
// # Mutual TLS
//
// A client with a certificate presents it in every TLS handshake with its
// token service, and, with AuthTLSClientAuth or
// AuthSelfSignedTLSClientAuth (RFC 8705 §2), authenticates with it alone:
// client_id in the form, no secret. When the certificate file changes,
// idle connections are closed, so that the next request shakes hands with
// the new certificate. A token bound to the certificate (RFC 8705 §3) is
// marked domain.Token.BoundToCertificate.
type Reach struct {
	// CAFile is a PEM file of CA certificates trusted for the token
	// services and issuers in addition to the system's roots (a company
	// CA). Read at New.
	CAFile string
	// CredentialCheckInterval is the least time between two looks at a
	// credential file; default credfile.DefaultCheckInterval.
	CredentialCheckInterval time.Duration
	// DiscoveryRefresh is how often an issuer's discovery document is
	// fetched again; default DefaultDiscoveryRefresh.
	DiscoveryRefresh time.Duration
	// DiscoveryTimeout bounds one fetch of a discovery document; default
	// DefaultDiscoveryTimeout.
	DiscoveryTimeout time.Duration
	// MaxDiscoveryBytes bounds a discovery document; default
	// DefaultMaxDiscoveryBytes.
	MaxDiscoveryBytes int64
	// Logger receives credential file changes and problems, discovery
	// failures and, once per service and episode, the token service's
	// dead tokens (see Options.MinTokenLifetime); never a secret or a
	// token. Default: slog.Default().
	Logger *slog.Logger
}

// reach holds what an Issuer's clients share: their credential files (one
// credfile.File per file, however many clients use it), their HTTP
// clients, the issuers' discovery documents, and the background work
// fetching these.
type reach struct {
	opts   Reach
	clock  ports.Clock
	log    *slog.Logger
	custom *http.Client // Options.HTTPClient, or nil
	// roots are the trusted CAs; nil means the system's.
	roots *x509.CertPool

	secrets map[string]*credfile.File[string]
	keys    map[string]*credfile.File[*signingKey] // by path and algorithm
	certs   map[[2]string]*certClient
	discs   map[string]*discovery
	// health lists every file in the order opened, for CredentialsHealth.
	health []interface{ Err() error }
	plain  *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// certClient is the HTTP client of the clients presenting one certificate.
type certClient struct {
	file *credfile.File[*tls.Certificate]
	http *http.Client
	// gen is the certificate generation the pooled connections shook
	// hands with.
	gen atomic.Uint64
}

// clientReach is how one client reaches its token service when that takes
// more than a URL and fixed credentials. Read-only after attach.
type clientReach struct {
	secret *credfile.File[string]
	key    *credfile.File[*signingKey]
	cert   *certClient
	disc   *discovery
	// possible are the authentication methods the credentials allow, in
	// order of preference; a client with no AuthMethod and a discovery
	// document uses the first the issuer supports.
	possible []string

	mu sync.Mutex
	// lastSecret and prevSecret are the file's secret now and the one
	// before, kept so that an error echoing either can be redacted.
	lastSecret, prevSecret string
}

func newReach(opts Options, clock ports.Clock) (*reach, error) {
	r := &reach{
		opts:    opts.Reach,
		clock:   clock,
		log:     opts.Logger,
		custom:  opts.HTTPClient,
		secrets: map[string]*credfile.File[string]{},
		keys:    map[string]*credfile.File[*signingKey]{},
		certs:   map[[2]string]*certClient{},
		discs:   map[string]*discovery{},
	}
	if r.log == nil {
		r.log = slog.Default()
	}
	if opts.CAFile != "" {
		if r.custom != nil {
			return nil, errors.New("a CA file cannot be applied to Options.HTTPClient; configure its transport instead")
		}
		var err error
		if r.roots, err = credfile.CertPool(opts.CAFile); err != nil {
			return nil, fmt.Errorf("CA file %w", err)
		}
	}
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// httpClient is the HTTP client presenting cert (nil: none) and trusting
// r.roots. Like the default client before it, it does not follow
// redirects, so that a misconfigured URL shows up as an error instead of a
// POST silently turned into a GET elsewhere.
func (r *reach) httpClient(cert *credfile.File[*tls.Certificate]) *http.Client {
	if r.custom != nil {
		return r.custom
	}
	if cert == nil && r.plain != nil {
		return r.plain
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: r.roots}
	if cert != nil {
		tr.TLSClientConfig.GetClientCertificate = credfile.GetClientCertificate(cert)
	}
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	if cert == nil {
		r.plain = c
	}
	return c
}

func (r *reach) fileOptions(name string) credfile.Options {
	return credfile.Options{Name: name, CheckInterval: r.opts.CredentialCheckInterval, Clock: r.clock, Logger: r.log}
}

func (r *reach) secretFile(path string) (*credfile.File[string], error) {
	if f, ok := r.secrets[path]; ok {
		return f, nil
	}
	f, err := credfile.Open([]string{path}, credfile.Secret, r.fileOptions("client secret file"))
	if err != nil {
		return nil, err
	}
	r.secrets[path] = f
	r.health = append(r.health, f)
	return f, nil
}

func (r *reach) keyFile(path, alg string) (*credfile.File[*signingKey], error) {
	id := path + "\x00" + alg
	if f, ok := r.keys[id]; ok {
		return f, nil
	}
	f, err := credfile.Open([]string{path}, privatekey.Parser(alg), r.fileOptions("private key file"))
	if err != nil {
		return nil, err
	}
	r.keys[id] = f
	r.health = append(r.health, f)
	return f, nil
}

func (r *reach) certFile(certPath, keyPath string) (*certClient, error) {
	id := [2]string{certPath, keyPath}
	if c, ok := r.certs[id]; ok {
		return c, nil
	}
	if r.custom != nil {
		return nil, errors.New("a client certificate cannot be applied to Options.HTTPClient; configure its transport instead")
	}
	f, err := credfile.OpenCertificate(certPath, keyPath, r.fileOptions("client certificate"))
	if err != nil {
		return nil, err
	}
	c := &certClient{file: f, http: r.httpClient(f)}
	c.gen.Store(1)
	r.certs[id] = c
	r.health = append(r.health, f)
	return c, nil
}

// attach checks where and how o reaches its token service and opens what
// that takes for c.
func (r *reach) attach(c *client, o ClientOptions) error {
	switch {
	case o.URL != "" && o.IssuerURL != "":
		return errors.New("token service URL and issuer URL are both set; set one of them")
	case o.IssuerURL != "":
		d, err := r.discovery(o.IssuerURL)
		if err != nil {
			return err
		}
		c.cr = &clientReach{disc: d}
		d.users = append(d.users, c)
	default:
		u, err := checkEndpoint(o.URL, "token service URL")
		if err != nil {
			return err
		}
		c.endpoint = u.String()
	}
	if o.ClientSecret != "" && o.ClientSecretFile != "" {
		return errors.New("client secret and client secret file are both set; set one of them")
	}
	if (o.ClientCertFile == "") != (o.ClientCertKeyFile == "") {
		return errors.New("a client certificate file and a client certificate key file go together; set both or neither")
	}
	if o.AuthMethod == "" && o.IssuerURL == "" {
		o.AuthMethod = o.possibleMethods()[0]
		c.authMethod = o.AuthMethod
	}
	switch o.AuthMethod {
	case "": // chosen from the discovery document
	case AuthClientSecretBasic, AuthClientSecretPost:
		if !o.hasSecret() && o.PrivateKeyFile != "" {
			return fmt.Errorf("auth method %s does not use the private key file, and there is no client secret; use %s", o.AuthMethod, AuthPrivateKeyJWT)
		}
	case AuthPrivateKeyJWT:
		if o.PrivateKeyFile == "" {
			return errors.New("auth method private_key_jwt needs a private key file")
		}
	case AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		if o.ClientCertFile == "" {
			return fmt.Errorf("auth method %s needs a client certificate file and its key file", o.AuthMethod)
		}
	default:
		return fmt.Errorf("auth method %q is not %s, %s, %s, %s or %s", o.AuthMethod, AuthClientSecretBasic, AuthClientSecretPost,
			AuthPrivateKeyJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth)
	}
	if o.ClientSecretFile == "" && o.ClientCertFile == "" && c.cr == nil &&
		(o.PrivateKeyFile == "" || o.AuthMethod != AuthPrivateKeyJWT) {
		return nil // a URL and fixed credentials
	}
	if c.cr == nil {
		c.cr = &clientReach{}
	}
	cr := c.cr
	cr.possible = o.possibleMethods()
	var err error
	if o.ClientSecretFile != "" {
		if cr.secret, err = r.secretFile(o.ClientSecretFile); err != nil {
			return err
		}
	}
	if o.PrivateKeyFile != "" && (o.AuthMethod == AuthPrivateKeyJWT || o.AuthMethod == "") {
		if cr.key, err = r.keyFile(o.PrivateKeyFile, o.SigningAlg); err != nil {
			return err
		}
		c.kid = o.KeyID
	}
	if o.ClientCertFile != "" {
		if cr.cert, err = r.certFile(o.ClientCertFile, o.ClientCertKeyFile); err != nil {
			return err
		}
	}
	return nil
}

// hasSecret reports whether o has a client secret, inline or in a file.
func (o ClientOptions) hasSecret() bool { return o.ClientSecret != "" || o.ClientSecretFile != "" }

// hasCredentials reports whether o brings credentials of its own.
func (o ClientOptions) hasCredentials() bool {
	return o.hasSecret() || o.PrivateKeyFile != "" || o.ClientCertFile != ""
}

// possibleMethods are the authentication methods o's credentials allow,
// best first: a private key (no shared secret travels), a secret in the
// Authorization header, in the form, then a client certificate alone. A
// client with a certificate and a secret or key still presents the
// certificate, which binds its tokens, but authenticates with the secret
// or key. With no credentials at all, client_secret_basic, as before
// (an HTTPClient of the caller's may do mutual TLS).
func (o ClientOptions) possibleMethods() []string {
	var m []string
	if o.PrivateKeyFile != "" {
		m = append(m, AuthPrivateKeyJWT)
	}
	if o.hasSecret() {
		m = append(m, AuthClientSecretBasic, AuthClientSecretPost)
	}
	if o.ClientCertFile != "" {
		m = append(m, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth)
	}
	if len(m) == 0 {
		m = []string{AuthClientSecretBasic}
	}
	return m
}

// method is how c authenticates now: its AuthMethod, or the best of its
// possible methods that its issuer supports.
func (c *client) method() string {
	if c.authMethod != "" || c.cr == nil || c.cr.disc == nil {
		return c.authMethod
	}
	doc, err := c.cr.disc.current()
	if err != nil {
		return c.cr.possible[0]
	}
	m, _ := chooseMethod(c.cr.possible, doc.AuthMethods)
	return m
}

// chooseMethod is the first of possible that supported lists, and true;
// or the first of possible, and false, when supported lists none of them.
// An empty supported list means client_secret_basic alone (RFC 8414 §2).
func chooseMethod(possible, supported []string) (string, bool) {
	if len(supported) == 0 {
		supported = []string{AuthClientSecretBasic}
	}
	for _, m := range possible {
		if slices.Contains(supported, m) {
			return m, true
		}
	}
	return possible[0], false
}

// tokenEndpoint is where c sends token requests: its URL, or its issuer's
// token endpoint (the mutual-TLS alias of RFC 8705 §5 when c presents a
// certificate and the issuer has one).
func (c *client) tokenEndpoint() (string, error) {
	if c.cr == nil || c.cr.disc == nil {
		return c.endpoint, nil
	}
	doc, err := c.cr.disc.current()
	if err != nil {
		return "", err
	}
	if c.cr.cert != nil && doc.MTLSTokenEndpoint != "" {
		return doc.MTLSTokenEndpoint, nil
	}
	return doc.TokenEndpoint, nil
}

// currentSecret is the client secret to send now.
func (c *client) currentSecret() string {
	if c.cr == nil || c.cr.secret == nil {
		return c.secret
	}
	s, _ := c.cr.secret.Current()
	c.cr.mu.Lock()
	if s != c.cr.lastSecret {
		c.cr.prevSecret, c.cr.lastSecret = c.cr.lastSecret, s
	}
	c.cr.mu.Unlock()
	return s
}

// knownSecrets are the secrets a request of c may have sent, for
// redaction: the fixed one, or the file's current and previous ones.
func (c *client) knownSecrets() []string {
	out := []string{c.secret}
	if c.cr != nil && c.cr.secret != nil {
		c.currentSecret()
		c.cr.mu.Lock()
		out = append(out, c.cr.lastSecret, c.cr.prevSecret)
		c.cr.mu.Unlock()
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// signingKey is the key signing c's assertions now.
func (c *client) signingKey() *signingKey {
	if c.key != nil || c.cr == nil || c.cr.key == nil {
		return c.key
	}
	k, _ := c.cr.key.Current()
	return k
}

// credentialGeneration identifies the credentials c would send now: it
// changes whenever one of its files does. Each file's generation only
// grows, so their sum is a new number after any change.
func (c *client) credentialGeneration() uint64 {
	if c.cr == nil {
		return 0
	}
	var gen uint64
	if c.cr.secret != nil {
		_, g := c.cr.secret.Current()
		gen += g
	}
	if c.cr.key != nil {
		_, g := c.cr.key.Current()
		gen += g
	}
	if c.cr.cert != nil {
		_, g := c.cr.cert.file.Current()
		gen += g
	}
	return gen
}

// reloadAfterRefusal looks at c's credential files at once when err is the
// token service's invalid_client, and reports whether the credentials are
// no longer those of generation gen, the ones refused: then asking again
// may succeed.
func (c *client) reloadAfterRefusal(err error, gen uint64) bool {
	tse, ok := clientRejected(err)
	if !ok || tse.Code != "invalid_client" || c.cr == nil {
		return false
	}
	if c.cr.secret != nil {
		c.cr.secret.Reload()
	}
	if c.cr.key != nil {
		c.cr.key.Reload()
	}
	if c.cr.cert != nil {
		c.cr.cert.file.Reload()
	}
	return c.credentialGeneration() != gen
}

// httpFor is the HTTP client that sends c's requests. When c's
// certificate has changed since its connections were made, they are
// closed first: a token service authenticates the connection, so an old
// one would still present the old certificate.
func (i *Issuer) httpFor(c *client) *http.Client {
	if c.cr == nil || c.cr.cert == nil {
		return i.http
	}
	cc := c.cr.cert
	if _, gen := cc.file.Current(); cc.gen.Swap(gen) != gen {
		cc.http.CloseIdleConnections()
	}
	return cc.http
}

// CredentialsHealth is nil while every credential file reads well. When
// one has become unreadable, empty or malformed, its last good value is
// still in use and the error says which file and what is wrong (never its
// contents): the health to report is DEGRADED, since tokens are still
// issued, but the next rotation will not be picked up.
func (i *Issuer) CredentialsHealth() error {
	var errs []error
	for _, f := range i.reach.health {
		if err := f.Err(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Close stops the background fetching of discovery documents and closes
// idle connections. Issue keeps working with what it has.
func (i *Issuer) Close() error {
	i.reach.close()
	return nil
}

func (r *reach) close() {
	r.cancel()
	r.wg.Wait()
	if r.plain != nil {
		r.plain.CloseIdleConnections()
	}
	for _, c := range r.certs {
		c.http.CloseIdleConnections()
	}
}

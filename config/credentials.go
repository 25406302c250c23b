package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jwtcache/jwtcache/internal/credfile"
	"github.com/jwtcache/jwtcache/internal/privatekey"
)

// authMethods are the values of JWT_CLIENT_AUTH_METHOD, in the order the
// messages list them.
var authMethods = []AuthMethod{AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth}

// authMethodValue reads JWT_CLIENT_AUTH_METHOD. Unlike other enums it may
// stay empty after resolve: with an issuer URL, the method is chosen from
// the issuer's discovery document.
func authMethodValue(field func(*Config) *AuthMethod) binding {
	check := func(v AuthMethod) string {
		for _, m := range authMethods {
			if v == m {
				return ""
			}
		}
		return fmt.Sprintf("%s is not client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth", echo(string(v)))
	}
	return binding{
		set: func(c *Config, raw string) string {
			v := AuthMethod(strings.ToLower(strings.TrimSpace(raw)))
			if v != "" {
				if p := check(v); p != "" {
					return p
				}
			}
			*field(c) = v
			return ""
		},
		check: func(c *Config) string {
			if v := *field(c); v != "" || c.TokenService.IssuerURL == "" {
				return check(v)
			}
			return ""
		},
	}
}

// resolveAuthMethod infers an unset AuthMethod from the credentials, as
// the token service adapter does, so that the configuration says what
// will be sent. With an issuer URL it stays empty: the issuer's discovery
// document decides among the methods the credentials allow.
func (t *TokenServiceConfig) resolveAuthMethod() {
	if t.AuthMethod != "" || t.IssuerURL != "" {
		return
	}
	switch {
	case t.PrivateKeyFile != "":
		t.AuthMethod = AuthPrivateKeyJWT
	case !t.hasSecret() && t.ClientCertFile != "":
		t.AuthMethod = AuthTLSClientAuth
	default:
		t.AuthMethod = AuthClientSecretBasic
	}
}

// usesCertificate reports whether m authenticates with the TLS client
// certificate.
func (m AuthMethod) usesCertificate() bool {
	return m == AuthTLSClientAuth || m == AuthSelfSignedTLSClientAuth
}

func (t TokenServiceConfig) hasSecret() bool { return t.ClientSecret != "" || t.ClientSecretFile != "" }

// hasCredentials reports whether the default client can authenticate.
func (t TokenServiceConfig) hasCredentials() bool {
	return t.hasSecret() || t.PrivateKeyFile != "" || t.ClientCertFile != ""
}

// endpointKey is the variable that says where the token endpoint is.
func (t TokenServiceConfig) endpointKey() string {
	if t.URL == "" && t.IssuerURL != "" {
		return "JWT_TOKEN_ISSUER_URL"
	}
	return "JWT_TOKEN_SERVICE_URL"
}

// credentialProblems are the combinations of the reach keys that cannot
// work: two ways of giving one thing, half a certificate, a certificate
// method without a certificate. It reads no file (see CheckFiles).
func (c Config) credentialProblems() []error {
	ts := c.TokenService
	var errs []error
	both := func(env, other string) {
		errs = append(errs, fieldError(env, "is set together with "+ref(other)+"; set one of them"))
	}
	if ts.URL != "" && ts.IssuerURL != "" {
		both("JWT_TOKEN_ISSUER_URL", "JWT_TOKEN_SERVICE_URL")
	}
	if ts.ClientSecret != "" && ts.ClientSecretFile != "" {
		both("JWT_CLIENT_SECRET_FILE", "JWT_CLIENT_SECRET")
	}
	switch {
	case ts.ClientCertFile != "" && ts.ClientCertKeyFile == "":
		errs = append(errs, fieldError("JWT_CLIENT_CERT_FILE", "is set without "+ref("JWT_CLIENT_CERT_KEY_FILE")+"; set both or neither"))
	case ts.ClientCertFile == "" && ts.ClientCertKeyFile != "":
		errs = append(errs, fieldError("JWT_CLIENT_CERT_KEY_FILE", "is set without "+ref("JWT_CLIENT_CERT_FILE")+"; set both or neither"))
	case ts.ClientCertFile == "" && ts.AuthMethod.usesCertificate():
		errs = append(errs, fieldError("JWT_CLIENT_CERT_FILE", fmt.Sprintf(
			"a client certificate file (and %s) is required when %s is %s", ref("JWT_CLIENT_CERT_KEY_FILE"), ref("JWT_CLIENT_AUTH_METHOD"), ts.AuthMethod)))
	}
	problem := func(name, setting, p string) {
		errs = append(errs, &FieldError{YAML: serviceKey(name, setting), Problem: p})
	}
	for _, name := range ts.ServiceNames() {
		s := ts.Services[name]
		if s.URL != "" && s.IssuerURL != "" {
			problem(name, "issuer-url", "is set together with "+serviceKey(name, "url")+"; set one of them")
		}
		if s.ClientSecret != "" && s.ClientSecretFile != "" {
			problem(name, "client-secret-file", "is set together with "+serviceKey(name, "client-secret")+"; set one of them")
		}
		if (s.ClientCertFile == "") != (s.ClientCertKeyFile == "") {
			problem(name, "client-cert-file", "and "+serviceKey(name, "client-cert-key-file")+" go together; set both or neither")
		}
	}
	return errs
}

// CheckFiles reads every file the token service keys name (the client
// secret, private key, client certificate and CA files, the default
// client's and each service's), and the Redis TLS files, as jwtcache will
// at start-up, and reports
// each one that is missing, unreadable, empty or malformed as a
// *FieldError naming its key and the file, never its contents. Validate
// reads no file; the server calls CheckFiles after Load, so that a bad
// file stops start-up with exit code 2 like any bad value.
func (c Config) CheckFiles() error {
	ts := c.TokenService
	var errs []error
	add := func(err error, env, yamlKey string) {
		if err == nil {
			return
		}
		fe := &FieldError{Env: env, YAML: yamlKey, Problem: err.Error()}
		if env != "" {
			fe.YAML = byEnv[env].YAML
		}
		errs = append(errs, fe)
	}
	fileOpts := credfile.Options{Name: "file"}
	secretFile := func(path string) error {
		if path == "" {
			return nil
		}
		_, err := credfile.Open([]string{path}, credfile.Secret, fileOpts)
		return err
	}
	keyFile := func(path string, alg SigningAlg) error {
		if path == "" {
			return nil
		}
		_, err := credfile.Open([]string{path}, privatekey.Parser(string(alg)), fileOpts)
		return err
	}
	certFiles := func(cert, key string) error {
		if cert == "" || key == "" {
			return nil
		}
		_, err := credfile.OpenCertificate(cert, key, credfile.Options{Name: "files"})
		return err
	}
	add(secretFile(ts.ClientSecretFile), "JWT_CLIENT_SECRET_FILE", "")
	add(keyFile(ts.PrivateKeyFile, ts.SigningAlg), "JWT_CLIENT_PRIVATE_KEY_FILE", "")
	add(certFiles(ts.ClientCertFile, ts.ClientCertKeyFile), "JWT_CLIENT_CERT_FILE", "")
	if ts.CAFile != "" {
		if _, err := credfile.CertPool(ts.CAFile); err != nil {
			add(fmt.Errorf("file %w", err), "JWT_TOKEN_SERVICE_CA_FILE", "")
		}
	}
	for _, name := range ts.ServiceNames() {
		s := ts.Services[name]
		add(secretFile(s.ClientSecretFile), "", serviceKey(name, "client-secret-file"))
		add(keyFile(s.PrivateKeyFile, s.SigningAlg), "", serviceKey(name, "private-key-file"))
		add(certFiles(s.ClientCertFile, s.ClientCertKeyFile), "", serviceKey(name, "client-cert-file"))
	}
	if err := c.Redis.checkTLSFiles(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// IssuerKey names the configuration key that holds issuerURL, the default
// client's or a service's, for a start-up error about its discovery
// document; JWT_TOKEN_ISSUER_URL's FieldError when none does.
func (c Config) IssuerKey(issuerURL string) *FieldError {
	ts := c.TokenService
	if ts.IssuerURL != issuerURL {
		for _, name := range ts.ServiceNames() {
			if ts.Services[name].IssuerURL == issuerURL {
				return &FieldError{YAML: serviceKey(name, "issuer-url")}
			}
		}
	}
	return fieldError("JWT_TOKEN_ISSUER_URL", "")
}

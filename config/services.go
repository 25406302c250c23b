package config

import (
	"fmt"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// servicesKey is the YAML mapping of per-service clients. It has no
// environment form: a variable name cannot carry a service name such as
// data-processor, and a secret there can come from the environment with a
// ${NAME} placeholder anyway.
const servicesKey = "jwt.services"

// serviceKey is the YAML key of one setting of one service.
func serviceKey(name, setting string) string { return servicesKey + "." + name + "." + setting }

// serviceSetting is one key of a jwt.services.<name> mapping.
type serviceSetting struct {
	// name is the key as documented.
	name   string
	secret bool
	// set parses raw into s and returns a problem for a malformed value;
	// range checks are serviceProblems', so that Validate makes them too.
	set func(s *ServiceClientConfig, raw string) string
}

var serviceSettings = func() map[string]serviceSetting {
	str := func(field func(*ServiceClientConfig) *string) func(*ServiceClientConfig, string) string {
		return func(s *ServiceClientConfig, raw string) string {
			*field(s) = strings.TrimSpace(raw)
			return ""
		}
	}
	list := []serviceSetting{
		{name: "url", set: str(func(s *ServiceClientConfig) *string { return &s.URL })},
		{name: "client-id", set: str(func(s *ServiceClientConfig) *string { return &s.ClientID })},
		{name: "client-secret", secret: true, set: func(s *ServiceClientConfig, raw string) string {
			s.ClientSecret = Secret(raw)
			return ""
		}},
		{name: "auth-method", set: func(s *ServiceClientConfig, raw string) string {
			s.AuthMethod = AuthMethod(strings.ToLower(strings.TrimSpace(raw)))
			return ""
		}},
		{name: "private-key-file", set: str(func(s *ServiceClientConfig) *string { return &s.PrivateKeyFile })},
		{name: "key-id", set: str(func(s *ServiceClientConfig) *string { return &s.KeyID })},
		{name: "signing-alg", set: func(s *ServiceClientConfig, raw string) string {
			s.SigningAlg = SigningAlg(strings.ToUpper(strings.TrimSpace(raw)))
			return ""
		}},
		{name: "scope", set: str(func(s *ServiceClientConfig) *string { return &s.Scope })},
		{name: "audience", set: str(func(s *ServiceClientConfig) *string { return &s.Audience })},
		{name: "grant-type", set: str(func(s *ServiceClientConfig) *string { return &s.GrantType })},
		{name: "issuer-url", set: str(func(s *ServiceClientConfig) *string { return &s.IssuerURL })},
		{name: "client-secret-file", set: str(func(s *ServiceClientConfig) *string { return &s.ClientSecretFile })},
		{name: "client-cert-file", set: str(func(s *ServiceClientConfig) *string { return &s.ClientCertFile })},
		{name: "client-cert-key-file", set: str(func(s *ServiceClientConfig) *string { return &s.ClientCertKeyFile })},
		{name: "timeout", set: func(s *ServiceClientConfig, raw string) string {
			d, ok := parseDuration(raw, time.Second)
			if !ok {
				return fmt.Sprintf("%s is not a duration (want seconds like 20 or a Go duration like 20s)", echo(raw))
			}
			s.Timeout = d
			return ""
		}},
	}
	m := make(map[string]serviceSetting, len(list))
	for _, s := range list {
		m[canonicalKey(s.name)] = s
	}
	return m
}()

// readServiceKey takes one flattened key under jwt.services: rest is what
// follows "jwt.services". A service listed with no settings (kyc: {} or
// kyc: with nothing) uses the default client; in strict mode that is how
// a name is allowed.
func (fv *fileValues) readServiceKey(key string, rest []string, v any, lookup func(string) (string, bool)) {
	emptyMapping := func() bool {
		m, ok := v.(map[string]any)
		return v == nil || ok && len(m) == 0
	}
	problem := func(yamlKey, p string) {
		fv.problems = append(fv.problems, &FieldError{YAML: yamlKey, Problem: p})
	}
	if len(rest) == 0 {
		if !emptyMapping() {
			problem(servicesKey, "want a mapping from service name to its settings (url, client-id, client-secret, scope, ...)")
		}
		return
	}
	if fv.services == nil {
		fv.services = map[string]ServiceClientConfig{}
	}
	name := rest[0]
	s := fv.services[name]
	fv.services[name] = s
	if len(rest) == 1 {
		if !emptyMapping() {
			problem(servicesKey+"."+name, "want a mapping of settings (url, client-id, client-secret, scope, ...)")
		}
		return
	}
	setting, ok := serviceSettings[canonicalKey(rest[1])]
	if !ok || len(rest) > 2 {
		fv.unknown = append(fv.unknown, key)
		return
	}
	v, set := resolveYAMLPlaceholder(v, lookup)
	if !set {
		return
	}
	raw, p := yamlString(v, setting.secret)
	if p == "" && strings.TrimSpace(raw) != "" {
		p = setting.set(&s, raw)
	}
	if p != "" {
		problem(serviceKey(name, setting.name), p)
		return
	}
	fv.services[name] = s
}

// serviceProblems checks each service's settings on their own; how they
// combine with the default client is the token service adapter's to check.
func (c Config) serviceProblems() []error {
	ts := c.TokenService
	var errs []error
	problem := func(yamlKey, p string) { errs = append(errs, &FieldError{YAML: yamlKey, Problem: p}) }
	for _, name := range ts.ServiceNames() {
		s := ts.Services[name]
		if err := domain.ValidateServiceName(name); err != nil {
			reason := strings.TrimPrefix(err.Error(), domain.ErrInvalidServiceName.Error()+": ")
			problem(servicesKey+"."+name, fmt.Sprintf("%s is not a valid service name: %s", echo(name), reason))
			continue
		}
		if p := checkURL(s.URL); p != "" {
			problem(serviceKey(name, "url"), p)
		}
		switch s.AuthMethod {
		case "", AuthClientSecretBasic, AuthClientSecretPost, AuthPrivateKeyJWT, AuthTLSClientAuth, AuthSelfSignedTLSClientAuth:
		default:
			problem(serviceKey(name, "auth-method"), fmt.Sprintf("%s is not client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth", echo(string(s.AuthMethod))))
		}
		if p := checkURL(s.IssuerURL); p != "" {
			problem(serviceKey(name, "issuer-url"), p)
		}
		if p := checkSigningAlg(s.SigningAlg); p != "" {
			problem(serviceKey(name, "signing-alg"), p)
		}
		if s.Timeout < 0 {
			problem(serviceKey(name, "timeout"), fmt.Sprintf("must not be negative, got %s (0 or unset takes %s)", s.Timeout, ref("JWT_TOKEN_TIMEOUT")))
		}
	}
	return errs
}

func checkSigningAlg(a SigningAlg) string {
	switch a {
	case "", SigningRS256, SigningES256:
		return ""
	}
	return fmt.Sprintf("%s is not RS256 or ES256", echo(string(a)))
}

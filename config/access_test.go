package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyList renders keys for comparison, revealing them: test use only.
func keyList(keys []APIKey) string {
	var parts []string
	for _, k := range keys {
		parts = append(parts, k.Key.Reveal()+"@"+strings.Join(k.Services, "+"))
	}
	return strings.Join(parts, ",")
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const (
	apiKeyA = "key-A-0123456789abcdef"
	apiKeyB = "key-B-0123456789abcdef"
	apiKeyC = "key-C-0123456789abcdef"
)

func TestLoadAPIKeys(t *testing.T) {
	t.Parallel()
	file := writeFile(t, "api-keys", "# jwtcache API keys\r\n\n  "+apiKeyC+"@kyc \r\n#"+apiKeyA+"\n")
	tests := []struct {
		name     string
		yaml     string
		env      []string
		want     string
		wantFile string
	}{
		{"none", "", nil, "", ""},
		{"env", "", []string{"JWT_API_KEYS= " + apiKeyA + " , " + apiKeyB + "@kyc+data-processor,"},
			apiKeyA + "@," + apiKeyB + "@kyc+data-processor", ""},
		{"YAML string", "jwt.api.keys: " + apiKeyA + "@kyc\n", nil, apiKeyA + "@kyc", ""},
		{"YAML list of strings and mappings, placeholders resolved", `
jwt:
  api:
    keys:
      - ` + apiKeyA + `
      - key: ${KEY_B}
        services: [kyc, data-processor]
      - key: '` + apiKeyC + `'
        services: kyc
      - ${UNSET_KEY}
`, []string{"KEY_B=" + apiKeyB}, apiKeyA + "@," + apiKeyB + "@kyc+data-processor," + apiKeyC + "@kyc", ""},
		{"environment replaces the YAML list", "jwt.api.keys: [" + apiKeyA + "]\n", []string{"JWT_API_KEYS=" + apiKeyB},
			apiKeyB + "@", ""},
		{"file merged with env", "", []string{"JWT_API_KEYS=" + apiKeyA, "JWT_API_KEYS_FILE=" + file},
			apiKeyA + "@", apiKeyC + "@kyc"},
		{"file from YAML", "jwt.api.keys-file: " + file + "\n", nil, "", apiKeyC + "@kyc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Environ: tt.env}
			if tt.yaml != "" {
				opts.File = writeYAML(t, tt.yaml)
			}
			c := mustLoad(t, opts)
			eq(t, keyList(c.API.Keys), tt.want)
			eq(t, keyList(c.API.FileKeys), tt.wantFile)
			eq(t, keyList(c.API.AllKeys()), strings.Trim(tt.want+","+tt.wantFile, ","))
			if tt.wantFile != "" {
				eq(t, c.API.KeysFile, file)
			}
		})
	}
}

func TestLoadAPIKeyProblems(t *testing.T) {
	t.Parallel()
	badFile := writeFile(t, "api-keys", "# ok\n"+apiKeyA+"\n"+apiKeyShort+"\n\n"+apiKeyB+"@Kyc\n")
	emptyFile := writeFile(t, "empty", "# nothing yet\n\n")
	tests := []struct {
		name, yaml string
		env        []string
		want       string
	}{
		{"file lines", "", []string{"JWT_API_KEYS_FILE=" + badFile},
			"config: JWT_API_KEYS_FILE (jwt.api.keys-file): file \"" + badFile + "\": line 3: the key is shorter than 16 characters; line 5: service 1 after '@' is not a valid service name"},
		{"empty file", "", []string{"JWT_API_KEYS_FILE=" + emptyFile}, "\": holds no key (want one per line"},
		{"YAML number", "jwt.api.keys: [1234567890123456789]\n", nil,
			"config: JWT_API_KEYS (jwt.api.keys): entry 1: <redacted> must be a quoted string"},
		{"YAML mapping with an unknown field", "jwt.api.keys:\n  - key: " + apiKeyA + "\n    service: kyc\n", nil,
			`entry 1: unknown field "service" (want key and services)`},
		{"YAML mapping without key", "jwt.api.keys:\n  - services: [kyc]\n", nil, "entry 1: key is missing or empty"},
		{"YAML mapping with a bad service", "jwt.api.keys:\n  - key: " + apiKeyA + "\n    services: [kyc, a+b]\n", nil,
			"entry 1: service 2 is not a valid service name"},
		{"YAML key with a comma", "jwt.api.keys: ['" + apiKeyA + "," + apiKeyB + "']\n", nil, "entry 1: the key may hold only"},
		{"YAML mapping instead of a list", "jwt.api.keys:\n  key: " + apiKeyA + "\n", nil, "config: JWT_API_KEYS (jwt.api.keys): is a YAML mapping"},
		{"short key in YAML", "jwt.api.keys: [" + apiKeyShort + "]\n", nil,
			"config: JWT_API_KEYS (jwt.api.keys): entry 1: the key is shorter than 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := LoadOptions{Environ: tt.env}
			if tt.yaml != "" {
				opts.File = writeYAML(t, tt.yaml)
			}
			if opts.Environ == nil {
				opts.Environ = []string{}
			}
			_, err := Load(opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v\nwant %q", err, tt.want)
			}
			for _, k := range []string{apiKeyA, apiKeyB, apiKeyShort, "1234567890123456789"} {
				if strings.Contains(err.Error(), k) {
					t.Errorf("error repeats a key: %v", err)
				}
			}
		})
	}
}

func TestAPIKeysNeverPrinted(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{Environ: []string{"JWT_API_KEYS=" + apiKeyA + "@kyc"}})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "api", c.API, "config", c)
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{
		"%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c.API), "json": string(js), "slog": buf.String(),
	} {
		if strings.Contains(out, apiKeyA) || !strings.Contains(out, "redacted") {
			t.Errorf("%s shows the key, or no redaction: %s", name, out)
		}
	}
}

func TestParseAPIKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		entry    string
		key      string
		services []string
		problem  string
	}{
		{apiKeyA, apiKeyA, nil, ""},
		{" " + apiKeyA + "@kyc ", apiKeyA, []string{"kyc"}, ""},
		{apiKeyA + "@kyc+data-processor", apiKeyA, []string{"kyc", "data-processor"}, ""},
		{"a+b/c=d:e%f~g!h#i", "a+b/c=d:e%f~g!h#i", nil, ""},
		{strings.Repeat("k", MinAPIKeyLen-1), "", nil, "shorter than 16"},
		{strings.Repeat("k", MaxAPIKeyLen+1), "", nil, "longer than 512"},
		{apiKeyA + "@", "", nil, "service 1 after '@' is not a valid service name"},
		{apiKeyA + "@kyc+", "", nil, "service 2 after '@'"},
		{"user@" + apiKeyA + "@kyc", "", nil, "may hold only visible ASCII characters other than ',' and '@'"},
		{"key-with-é-0123456789", "", nil, "may hold only visible ASCII"},
		{"key\twith-tab-0123456789", "", nil, "may hold only visible ASCII"},
	}
	for _, tt := range tests {
		k, p := parseAPIKey(tt.entry)
		if tt.problem != "" {
			if !strings.Contains(p, tt.problem) {
				t.Errorf("parseAPIKey(%q) problem %q, want %q", tt.entry, p, tt.problem)
			}
			continue
		}
		if p != "" || k.Key.Reveal() != tt.key || !slices.Equal(k.Services, tt.services) {
			t.Errorf("parseAPIKey(%q) = %q %v %q", tt.entry, k.Key.Reveal(), k.Services, p)
		}
	}
}

func TestLoadPrivateKeyJWT(t *testing.T) {
	t.Parallel()
	base := []string{"JWT_TOKEN_SERVICE_URL=https://idp/token", "JWT_CLIENT_ID=id"}
	t.Run("inferred from the key file, no secret needed", func(t *testing.T) {
		t.Parallel()
		c := mustLoad(t, LoadOptions{Environ: append(slices.Clone(base),
			"JWT_CLIENT_PRIVATE_KEY_FILE=/keys/client.pem", "JWT_CLIENT_KEY_ID=k1", "JWT_CLIENT_SIGNING_ALG=es256")})
		ts := c.TokenService
		if ts.AuthMethod != AuthPrivateKeyJWT || ts.PrivateKeyFile != "/keys/client.pem" || ts.KeyID != "k1" || ts.SigningAlg != SigningES256 {
			t.Errorf("token service = %+v", ts)
		}
	})
	t.Run("explicit method without a key file", func(t *testing.T) {
		t.Parallel()
		_, err := Load(LoadOptions{Environ: append(slices.Clone(base), "JWT_CLIENT_AUTH_METHOD=private_key_jwt")})
		want := "config: JWT_CLIENT_PRIVATE_KEY_FILE (jwt.token.client.private-key-file): a private key file is required when JWT_CLIENT_AUTH_METHOD (jwt.token.client.auth-method) is private_key_jwt"
		if err == nil || err.Error() != want {
			t.Errorf("error %v, want only %q", err, want)
		}
	})
	t.Run("key file with a secret method", func(t *testing.T) {
		t.Parallel()
		_, err := Load(LoadOptions{Environ: append(slices.Clone(base), "JWT_CLIENT_SECRET=s",
			"JWT_CLIENT_AUTH_METHOD=client_secret_post", "JWT_CLIENT_PRIVATE_KEY_FILE=/keys/client.pem")})
		if err == nil || !strings.Contains(err.Error(), "config: JWT_CLIENT_PRIVATE_KEY_FILE (jwt.token.client.private-key-file): is set but JWT_CLIENT_AUTH_METHOD (jwt.token.client.auth-method) is client_secret_post") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("secret methods still need the secret", func(t *testing.T) {
		t.Parallel()
		_, err := Load(LoadOptions{Environ: slices.Clone(base)})
		if err == nil || !strings.Contains(err.Error(), "config: JWT_CLIENT_SECRET (jwt.token.client.secret): a client secret is required") {
			t.Errorf("error %v", err)
		}
	})
}

const servicesYAML = `
jwt:
  token:
    service.url: https://idp.example/oauth/token
    client:
      id: default-client
      secret: default-secret
  services-strict: true
  services:
    kyc:
      url: https://kyc-idp.example/token
      client-id: kyc-client
      client-secret: ${KYC_SECRET}
      auth-method: client_secret_post
      scope: kyc.read
      audience: https://kyc.example
      grant-type: urn:example:grant
      timeout: 5
    data-processor:
      clientId: dp-client
      private_key_file: /keys/dp.pem
      key-id: dp-1
      signing-alg: rs256
      timeout: PT2S
    reference-data: {}
    audit:
    scoped:
      scope: only.this
      sccope: typo
`

func TestLoadServices(t *testing.T) {
	t.Parallel()
	c := mustLoad(t, LoadOptions{File: writeYAML(t, servicesYAML), Environ: []string{"KYC_SECRET=" + clientSecret}})
	ts := c.TokenService
	if !ts.StrictServices {
		t.Error("StrictServices not set")
	}
	eq(t, strings.Join(ts.ServiceNames(), ","), "audit,data-processor,kyc,reference-data,scoped")
	want := map[string]ServiceClientConfig{
		"kyc": {URL: "https://kyc-idp.example/token", ClientID: "kyc-client", ClientSecret: clientSecret,
			AuthMethod: AuthClientSecretPost, Scope: "kyc.read", Audience: "https://kyc.example", GrantType: "urn:example:grant", Timeout: 5 * time.Second},
		"data-processor": {ClientID: "dp-client", PrivateKeyFile: "/keys/dp.pem", KeyID: "dp-1", SigningAlg: SigningRS256, Timeout: 2 * time.Second},
		"reference-data": {},
		"audit":          {},
		"scoped":         {Scope: "only.this"},
	}
	if !reflect.DeepEqual(ts.Services, want) {
		t.Errorf("services\n got %+v\nwant %+v", ts.Services, want)
	}
	if ts.Services["kyc"].ClientSecret.Reveal() != clientSecret {
		t.Error("kyc's secret placeholder not resolved")
	}
	eq(t, strings.Join(c.Origin.UnknownKeys, ","), "jwt.services.scoped.sccope")
	eq(t, ts.MaxTimeout(), 10*time.Second)
	if strings.Contains(fmt.Sprintf("%+v", c), clientSecret) {
		t.Error("a service's secret is printed")
	}
}

func TestLoadServiceProblems(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, yaml, want string }{
		{"invalid name", "jwt.services:\n  KYC:\n    scope: x\n",
			`config: jwt.services.KYC: "KYC" is not a valid service name: service name must start with a lowercase letter`},
		{"invalid name without settings", "jwt.services:\n  kyc_svc: {}\n", `config: jwt.services.kyc_svc: "kyc_svc" is not a valid service name`},
		{"bad URL", "jwt.services.kyc.url: ftp://x/token\n", `config: jwt.services.kyc.url: "ftp://x/token" is not an http or https URL`},
		{"bad auth method", "jwt.services.kyc.auth-method: none\n",
			`config: jwt.services.kyc.auth-method: "none" is not client_secret_basic, client_secret_post, private_key_jwt, tls_client_auth or self_signed_tls_client_auth`},
		{"bad signing alg", "jwt.services.kyc.signing-alg: PS256\n", `config: jwt.services.kyc.signing-alg: "PS256" is not RS256 or ES256`},
		{"bad timeout", "jwt.services.kyc.timeout: soon\n", `config: jwt.services.kyc.timeout: "soon" is not a duration`},
		{"negative timeout", "jwt.services.kyc.timeout: -1s\n", "config: jwt.services.kyc.timeout: must not be negative, got -1s"},
		{"timeout beyond the lock TTL", "jwt.services.kyc.timeout: 1m\n",
			"config: JWT_LOCK_TTL (jwt.token.cache.lock-ttl): 30s must be longer than jwt.services.kyc.timeout 1m0s"},
		{"unquoted numeric secret", "jwt.services.kyc.client-secret: 987654321\n",
			"config: jwt.services.kyc.client-secret: <redacted> must be quoted in YAML"},
		{"a list", "jwt.services: [kyc]\n", "config: jwt.services: want a mapping from service name"},
		{"a scalar service", "jwt.services:\n  kyc: yes\n", "config: jwt.services.kyc: want a mapping of settings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(LoadOptions{File: writeYAML(t, tt.yaml), Environ: []string{}})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Count(err.Error(), "config: ") != 1 {
				t.Fatalf("error %v\nwant one problem %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "987654321") {
				t.Errorf("error repeats the secret: %v", err)
			}
		})
	}
}

func TestValidateAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		modify func(c *Config)
		want   []string
	}{
		{"private_key_jwt needs no secret", func(c *Config) {
			c.TokenService.URL, c.TokenService.ClientID = "https://idp/token", "id"
			c.TokenService.AuthMethod, c.TokenService.PrivateKeyFile = AuthPrivateKeyJWT, "/k.pem"
		}, nil},
		{"private_key_jwt without key", func(c *Config) { c.TokenService.AuthMethod = AuthPrivateKeyJWT },
			[]string{"config: JWT_CLIENT_PRIVATE_KEY_FILE"}},
		{"bad signing alg", func(c *Config) { c.TokenService.SigningAlg = "none" }, []string{"config: JWT_CLIENT_SIGNING_ALG"}},
		{"strict without services", func(c *Config) { c.TokenService.StrictServices = true }, []string{"config: JWT_STRICT_SERVICES"}},
		{"strict with services", func(c *Config) {
			c.TokenService.StrictServices = true
			c.TokenService.Services = map[string]ServiceClientConfig{"kyc": {}}
		}, nil},
		{"service problems", func(c *Config) {
			c.TokenService.Services = map[string]ServiceClientConfig{
				"Bad":  {},
				"kyc":  {URL: "nope", AuthMethod: "x", SigningAlg: "y", Timeout: -1},
				"good": {Timeout: time.Second},
			}
		}, []string{"config: jwt.services.Bad: ", "config: jwt.services.kyc.url", "config: jwt.services.kyc.auth-method",
			"config: jwt.services.kyc.signing-alg", "config: jwt.services.kyc.timeout"}},
		{"hand-built short API key", func(c *Config) {
			c.API.Keys = []APIKey{{Key: apiKeyA}, {Key: apiKeyShort}}
			c.API.FileKeys = []APIKey{{Key: apiKeyB, Services: []string{"x_y"}}}
		}, []string{"config: JWT_API_KEYS (jwt.api.keys): entry 2: the key is shorter",
			"config: JWT_API_KEYS_FILE (jwt.api.keys-file): key 1: service 1 after '@'"}},
		{"negative negative cache", func(c *Config) { c.TokenService.NegativeCache = -time.Second },
			[]string{"config: JWT_TOKEN_NEGATIVE_CACHE"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := Default()
			tt.modify(&c)
			err := c.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Validate() = nil")
			}
			if n := strings.Count(err.Error(), "config: "); n != len(tt.want) {
				t.Errorf("%d problems, want %d:\n%v", n, len(tt.want), err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no problem %q in:\n%v", w, err)
				}
			}
			for _, k := range []string{apiKeyA, apiKeyB, apiKeyShort} {
				if strings.Contains(err.Error(), k) {
					t.Errorf("error repeats a key: %v", err)
				}
			}
		})
	}
}

func TestMarkdownTableListsYAMLOnlyKeys(t *testing.T) {
	t.Parallel()
	if !strings.Contains(MarkdownTable(), "| (YAML only) | `jwt.services.<name>.<setting>` |") {
		t.Error("the table lacks the jwt.services row")
	}
}

package deploy

import (
	"bufio"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/jwtcache/jwtcache/adapters/devissuer"
	"github.com/jwtcache/jwtcache/config"
)

type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	User     string   `yaml:"user"`
	ReadOnly bool     `yaml:"read_only"`
	CapDrop  []string `yaml:"cap_drop"`
}

// devIssuerFlags are the flags of `jwtcache dev-issuer` (cmd/jwtcache).
var devIssuerFlags = []string{"--addr", "--client-id", "--lifetime"}

// TestComposeWiring: the Compose file has Redis, the development token
// service and two or more jwtcache replicas; every variable it sets is one
// its program reads; the replicas reach Redis and the token service by
// their service names; and the token service, started with the file's own
// flags and secret, hands a token to the replicas' client.
func TestComposeWiring(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "compose", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var redisName, issuerName string
	var replicas []string
	for name, s := range file.Services {
		switch {
		case strings.Contains(s.Image, "redis"):
			redisName = name
		case len(s.Command) > 0 && s.Command[0] == "dev-issuer":
			issuerName = name
		case len(s.Command) > 0 && s.Command[0] == "serve":
			replicas = append(replicas, name)
		default:
			t.Errorf("service %s: neither Redis, the dev issuer nor a replica (command %v)", name, s.Command)
		}
	}
	slices.Sort(replicas)
	if redisName == "" || issuerName == "" || len(replicas) < 2 {
		t.Fatalf("redis %q, dev issuer %q, replicas %v: want one, one and two or more", redisName, issuerName, replicas)
	}
	issuer := file.Services[issuerName]

	// The token service's flags and variables.
	flags := map[string]string{}
	for i := 1; i < len(issuer.Command); i += 2 {
		if !slices.Contains(devIssuerFlags, issuer.Command[i]) || i+1 >= len(issuer.Command) {
			t.Fatalf("dev-issuer %v: %q is not one of its flags %v with a value", issuer.Command[1:], issuer.Command[i], devIssuerFlags)
		}
		flags[issuer.Command[i]] = issuer.Command[i+1]
	}
	for name := range issuer.Environment {
		if name != "DEV_ISSUER_CLIENT_SECRET" {
			t.Errorf("%s sets %s, which dev-issuer does not read", issuerName, name)
		}
	}
	_, issuerPort, err := net.SplitHostPort(flags["--addr"])
	if err != nil {
		t.Fatalf("dev-issuer --addr %q: %v", flags["--addr"], err)
	}
	if host, _, _ := net.SplitHostPort(flags["--addr"]); host == "127.0.0.1" || host == "localhost" {
		t.Errorf("dev-issuer listens on %s: other containers cannot reach it", flags["--addr"])
	}

	keys := map[string]bool{config.FileEnv: true}
	for _, k := range config.Keys() {
		keys[k.Env] = true
	}
	hostPorts := map[string]string{}
	for _, name := range replicas {
		s := file.Services[name]
		if s.Image != issuer.Image {
			t.Errorf("%s runs %q, the dev issuer %q: one image serves both", name, s.Image, issuer.Image)
		}
		env := s.Environment
		var environ []string
		for k, v := range env {
			if !keys[k] {
				t.Errorf("%s sets %s, which jwtcache does not read", name, k)
			}
			environ = append(environ, k+"="+v)
		}
		if _, err := config.Load(config.LoadOptions{Environ: environ}); err != nil {
			t.Errorf("%s: jwtcache would refuse its configuration: %v", name, err)
		}
		if env["CACHE_TYPE"] != "redis" || env["REDIS_HOST"] != redisName || env["REDIS_PORT"] != "6379" {
			t.Errorf("%s: CACHE_TYPE %q REDIS_HOST %q REDIS_PORT %q, want the %s service", name, env["CACHE_TYPE"], env["REDIS_HOST"], env["REDIS_PORT"], redisName)
		}
		u, err := url.Parse(env["JWT_TOKEN_SERVICE_URL"])
		if err != nil || u.Hostname() != issuerName || u.Port() != issuerPort || u.Path != devissuer.TokenPath {
			t.Errorf("%s: JWT_TOKEN_SERVICE_URL %q, want http://%s:%s%s", name, env["JWT_TOKEN_SERVICE_URL"], issuerName, issuerPort, devissuer.TokenPath)
		}
		if env["JWT_CLIENT_ID"] != flags["--client-id"] || env["JWT_CLIENT_SECRET"] != issuer.Environment["DEV_ISSUER_CLIENT_SECRET"] {
			t.Errorf("%s: client %q/%q, the dev issuer knows %q/%q", name, env["JWT_CLIENT_ID"], env["JWT_CLIENT_SECRET"],
				flags["--client-id"], issuer.Environment["DEV_ISSUER_CLIENT_SECRET"])
		}
		for _, dep := range []string{redisName, issuerName} {
			if _, ok := s.DependsOn[dep]; !ok {
				t.Errorf("%s does not depend on %s", name, dep)
			}
		}
		if len(s.Ports) != 1 || !strings.HasSuffix(s.Ports[0], ":"+env["SERVER_PORT"]) {
			t.Errorf("%s publishes %v, it listens on %q", name, s.Ports, env["SERVER_PORT"])
		} else if other, dup := hostPorts[s.Ports[0]]; dup {
			t.Errorf("%s and %s publish the same port %s", name, other, s.Ports[0])
		} else {
			hostPorts[s.Ports[0]] = name
		}
		if !s.ReadOnly || s.User == "" || strings.HasPrefix(s.User, "0") || !slices.Equal(s.CapDrop, []string{"ALL"}) {
			t.Errorf("%s: read_only %v user %q cap_drop %v", name, s.ReadOnly, s.User, s.CapDrop)
		}
	}
	if env1, env2 := file.Services[replicas[0]].Environment, file.Services[replicas[1]].Environment; !mapsEqual(env1, env2) {
		t.Errorf("the replicas are configured differently:\n%v\n%v", env1, env2)
	}

	if testing.Short() {
		return
	}
	// Start the token service as the file does (on loopback) and ask it
	// for a token as the replicas would.
	tokenURL := startDevIssuer(t, issuer, flags)
	env := file.Services[replicas[0]].Environment
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {env["JWT_TOKEN_SCOPE"]}}
	req, _ := http.NewRequestWithContext(t.Context(), "POST", tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(env["JWT_CLIENT_ID"], env["JWT_CLIENT_SECRET"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 || tok.AccessToken == "" {
		t.Fatalf("the replicas' client gets %d from the dev issuer (%v)", resp.StatusCode, err)
	}
	if lifetime, _ := time.ParseDuration(flags["--lifetime"]); tok.ExpiresIn != int(lifetime.Seconds()) {
		t.Errorf("expires_in %d, the file asks for --lifetime %s", tok.ExpiresIn, flags["--lifetime"])
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// startDevIssuer runs `jwtcache dev-issuer` with the Compose service's
// command and environment, its address moved to a free loopback port, and
// returns the token URL it prints.
func startDevIssuer(t *testing.T, s composeService, flags map[string]string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "jwtcache")
	runTool(t, repoRoot(t), "go", "build", "-o", bin, "./cmd/jwtcache")
	args := slices.Clone(s.Command)
	args[slices.Index(args, "--addr")+1] = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"DEV_ISSUER_CLIENT_SECRET=" + s.Environment["DEV_ISSUER_CLIENT_SECRET"]}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stdout)
	var tokenURL string
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "JWT_TOKEN_SERVICE_URL="); ok {
			tokenURL = v
		}
		if v, ok := strings.CutPrefix(line, "JWT_CLIENT_ID="); ok {
			if v != flags["--client-id"] {
				t.Fatalf("dev-issuer serves client %q, the file says %q", v, flags["--client-id"])
			}
			break
		}
	}
	if tokenURL == "" {
		t.Fatalf("dev-issuer %v printed no token URL", args)
	}
	go func() { // keep reading, so that a late line never blocks the process
		for sc.Scan() {
		}
	}()
	return tokenURL
}

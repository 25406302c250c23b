package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/jwtcache/jwtcache/config"
)

// object is the part of a Kubernetes object the tests read.
type object struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data       map[string]string `yaml:"data"`
	StringData map[string]string `yaml:"stringData"`
	Spec       struct {
		Replicas *int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		// Service.
		ServiceSelector map[string]string `yaml:"-"`
		Ports           []struct {
			Name       string `yaml:"name"`
			Port       any    `yaml:"port"`
			TargetPort any    `yaml:"targetPort"`
		} `yaml:"ports"`
		// PodDisruptionBudget.
		MinAvailable any `yaml:"minAvailable"`
		// NetworkPolicy.
		PodSelector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"podSelector"`
		PolicyTypes []string `yaml:"policyTypes"`
		Ingress     []struct {
			From []struct {
				NamespaceSelector *struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"namespaceSelector"`
				PodSelector *struct {
					MatchLabels map[string]string `yaml:"matchLabels"`
				} `yaml:"podSelector"`
			} `yaml:"from"`
			Ports []struct {
				Port any `yaml:"port"`
			} `yaml:"ports"`
		} `yaml:"ingress"`
		// Deployment.
		Template struct {
			Metadata struct {
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"metadata"`
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
	raw map[string]any
}

type podSpec struct {
	AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds int   `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot *bool `yaml:"runAsNonRoot"`
		RunAsUser    *int  `yaml:"runAsUser"`
	} `yaml:"securityContext"`
	TopologySpreadConstraints []struct {
		TopologyKey       string `yaml:"topologyKey"`
		WhenUnsatisfiable string `yaml:"whenUnsatisfiable"`
		MaxSkew           int    `yaml:"maxSkew"`
		LabelSelector     struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"labelSelector"`
	} `yaml:"topologySpreadConstraints"`
	Containers []container `yaml:"containers"`
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name  string `yaml:"name"`
	Image string `yaml:"image"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env     []any `yaml:"env"`
	EnvFrom []struct {
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
	} `yaml:"envFrom"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	StartupProbe   *probe `yaml:"startupProbe"`
	Lifecycle      struct {
		PreStop struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
			Add  []string `yaml:"add"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

// decodeObjects reads a stream of YAML documents.
func decodeObjects(t *testing.T, b []byte) map[string]object {
	t.Helper()
	out := map[string]object{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	for {
		var node yaml.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the manifests do not parse: %v", err)
		}
		var o object
		if err := node.Decode(&o); err != nil {
			t.Fatal(err)
		}
		if err := node.Decode(&o.raw); err != nil {
			t.Fatal(err)
		}
		if o.Kind == "Service" {
			sel, _ := o.raw["spec"].(map[string]any)["selector"].(map[string]any)
			o.Spec.ServiceSelector = map[string]string{}
			for k, v := range sel {
				o.Spec.ServiceSelector[k] = fmt.Sprint(v)
			}
		}
		key := o.Kind + "/" + o.Metadata.Name
		if _, dup := out[key]; dup {
			t.Fatalf("%s twice", key)
		}
		out[key] = o
	}
	return out
}

// selects reports whether a selector matches labels.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// readmePreStopSeconds is the preStop sleep the README advises.
func readmePreStopSeconds(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`preStop: \{sleep: \{seconds: (\d+)\}\}`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the README gives no `preStop: {sleep: {seconds: N}}`")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// imageUser is the numeric user of deploy/image/Dockerfile.
func imageUser(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "image", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("the Dockerfile has no numeric USER")
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// TestKubernetesBase renders the kustomize base with kubectl and checks
// its objects, their wiring and the pod's security settings.
func TestKubernetesBase(t *testing.T) {
	kubectl := tool(t, "kubectl", "the Kubernetes manifests")
	root := repoRoot(t)
	objs := decodeObjects(t, []byte(runTool(t, root, kubectl, "kustomize", "deploy/kubernetes")))
	want := []string{"ConfigMap/jwtcache", "Deployment/jwtcache", "NetworkPolicy/jwtcache", "PodDisruptionBudget/jwtcache", "Service/jwtcache"}
	if got := slices.Sorted(maps.Keys(objs)); !slices.Equal(got, want) {
		t.Fatalf("rendered %v, want %v", got, want)
	}
	dep, svc, pdb, np, cm := objs["Deployment/jwtcache"], objs["Service/jwtcache"], objs["PodDisruptionBudget/jwtcache"], objs["NetworkPolicy/jwtcache"], objs["ConfigMap/jwtcache"]
	pod := dep.Spec.Template.Spec
	podLabels := dep.Spec.Template.Metadata.Labels

	if dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2 {
		t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
	}
	if !selects(dep.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, podLabels)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if !strings.HasPrefix(c.Image, "jwtcache") {
		t.Errorf("image %q", c.Image)
	}

	// Ports: the container listens where the ConfigMap says, the API on
	// "http" and the management listener on "management".
	port, err := strconv.Atoi(cm.Data["SERVER_PORT"])
	mport, merr := strconv.Atoi(cm.Data["MANAGEMENT_PORT"])
	if err != nil || merr != nil || len(c.Ports) != 2 || c.Ports[0].ContainerPort != port || c.Ports[0].Name != "http" ||
		c.Ports[1].ContainerPort != mport || c.Ports[1].Name != "management" || port == mport {
		t.Errorf("container ports %+v, SERVER_PORT %q, MANAGEMENT_PORT %q", c.Ports, cm.Data["SERVER_PORT"], cm.Data["MANAGEMENT_PORT"])
	}

	// Probes, on the management port: a flood of the API port does not
	// fail them and restart the pods.
	for name, p := range map[string]*probe{"liveness /livez": c.LivenessProbe, "readiness /readyz": c.ReadinessProbe, "startup /livez": c.StartupProbe} {
		_, path, _ := strings.Cut(name, " ")
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || fmt.Sprint(p.HTTPGet.Port) != "management" {
			t.Errorf("no %s probe on the management port: %+v", name, p)
		}
	}
	// Scrapes too.
	if a := dep.Spec.Template.Metadata.Annotations; a["prometheus.io/port"] != cm.Data["MANAGEMENT_PORT"] || a["prometheus.io/path"] != "/metrics" {
		t.Errorf("scrape annotations %v, want /metrics on MANAGEMENT_PORT %s", a, cm.Data["MANAGEMENT_PORT"])
	}

	// Shutdown: the preStop sleep the README advises, and a grace period
	// that covers it and the drained shutdown, whose bound the ConfigMap's
	// settings give (SERVER_SHUTDOWN_TIMEOUT or the one derived from
	// JWT_LOCK_TTL, the token timeout and REDIS_TIMEOUT).
	sleep := readmePreStopSeconds(t)
	if s := c.Lifecycle.PreStop.Sleep; s == nil || s.Seconds != sleep {
		t.Errorf("preStop sleep %+v, the README says %d s", s, sleep)
	}
	shutdown := int(math.Ceil(deployedConfig(t, cm.Data).ShutdownTimeout().Seconds()))
	if pod.TerminationGracePeriodSeconds < sleep+shutdown {
		t.Errorf("terminationGracePeriodSeconds %d < preStop %d s + shutdown %d s", pod.TerminationGracePeriodSeconds, sleep, shutdown)
	}

	// Resources.
	for _, r := range []string{"cpu", "memory"} {
		if c.Resources.Requests[r] == "" {
			t.Errorf("no %s request", r)
		}
	}
	if c.Resources.Limits["memory"] == "" {
		t.Error("no memory limit")
	}

	// Security.
	isTrue := func(b *bool) bool { return b != nil && *b }
	sc := c.SecurityContext
	if !isTrue(pod.SecurityContext.RunAsNonRoot) || !isTrue(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set on the pod and the container")
	}
	if u := pod.SecurityContext.RunAsUser; u == nil || *u == 0 || *u != imageUser(t) {
		t.Errorf("runAsUser %v, want the image's user %d", u, imageUser(t))
	}
	if !isTrue(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not true")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities drop %v add %v, want drop [ALL]", sc.Capabilities.Drop, sc.Capabilities.Add)
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("the pod mounts a service account token it does not need")
	}

	// Spread over nodes.
	spread := false
	for _, tsc := range pod.TopologySpreadConstraints {
		if tsc.TopologyKey == "kubernetes.io/hostname" && tsc.MaxSkew == 1 && selects(tsc.LabelSelector.MatchLabels, podLabels) {
			spread = true
		}
	}
	if !spread {
		t.Errorf("no spread over nodes: %+v", pod.TopologySpreadConstraints)
	}

	// Configuration: the ConfigMap and the Secret, both through envFrom.
	var cmRef, secretRef string
	for _, e := range c.EnvFrom {
		if e.ConfigMapRef != nil {
			cmRef = e.ConfigMapRef.Name
		}
		if e.SecretRef != nil {
			secretRef = e.SecretRef.Name
		}
	}
	if cmRef != cm.Metadata.Name || len(c.Env) > 0 {
		t.Errorf("envFrom configMapRef %q, want %q (and no env of its own: %v)", cmRef, cm.Metadata.Name, c.Env)
	}
	secret := secretExample(t)
	if secretRef != secret.Metadata.Name {
		t.Errorf("envFrom secretRef %q, the example Secret is %q", secretRef, secret.Metadata.Name)
	}
	checkSettings(t, cm.Data, secret.StringData)

	// Service.
	if !selects(svc.Spec.ServiceSelector, podLabels) || len(svc.Spec.Ports) != 1 ||
		fmt.Sprint(svc.Spec.Ports[0].TargetPort) != "http" {
		t.Errorf("the Service does not reach the pods' http port: selector %v ports %+v", svc.Spec.ServiceSelector, svc.Spec.Ports)
	}

	// PodDisruptionBudget: keeps one of the two.
	if !selects(pdb.Spec.Selector.MatchLabels, podLabels) || fmt.Sprint(pdb.Spec.MinAvailable) != "1" {
		t.Errorf("PodDisruptionBudget selector %v minAvailable %v", pdb.Spec.Selector.MatchLabels, pdb.Spec.MinAvailable)
	}

	// NetworkPolicy: ingress to the API port from named callers only, and
	// to the management port from the monitoring namespace only (the
	// kubelet's probes are not subject to it).
	if !selects(np.Spec.PodSelector.MatchLabels, podLabels) || !slices.Contains(np.Spec.PolicyTypes, "Ingress") {
		t.Errorf("the NetworkPolicy does not govern the pods' ingress: %v %v", np.Spec.PodSelector.MatchLabels, np.Spec.PolicyTypes)
	}
	admitted := map[string]bool{}
	for _, rule := range np.Spec.Ingress {
		if len(rule.From) == 0 {
			t.Error("an ingress rule admits every source")
		}
		if len(rule.Ports) != 1 {
			t.Errorf("ingress ports %+v, want one port per rule", rule.Ports)
			continue
		}
		port := fmt.Sprint(rule.Ports[0].Port)
		admitted[port] = true
		for _, from := range rule.From {
			switch {
			case from.NamespaceSelector == nil && from.PodSelector == nil:
				t.Error("an ingress peer with no selector")
			case port == "http" && (from.PodSelector == nil || len(from.PodSelector.MatchLabels) == 0) &&
				(from.NamespaceSelector == nil || len(from.NamespaceSelector.MatchLabels) == 0):
				t.Errorf("the API port admits any pod: %+v", from)
			case port == "management" && (from.PodSelector != nil || from.NamespaceSelector == nil ||
				from.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring"):
				t.Errorf("the management port admits more than the monitoring namespace: %+v", from)
			case port != "http" && port != "management":
				t.Errorf("ingress to port %s", port)
			}
		}
	}
	if !admitted["http"] || !admitted["management"] || len(admitted) != 2 {
		t.Errorf("the NetworkPolicy admits to ports %v, want http and management", slices.Sorted(maps.Keys(admitted)))
	}
}

func secretExample(t *testing.T) object {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "kubernetes", "secret.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeObjects(t, b)
	s, ok := objs["Secret/jwtcache"]
	if !ok || len(objs) != 1 {
		t.Fatalf("secret.example.yaml holds %v, want Secret/jwtcache", slices.Collect(maps.Keys(objs)))
	}
	return s
}

// checkSettings: the ConfigMap holds only non-secret configuration
// variables, including the guide's; the Secret only secret ones, among
// them the client secret, the API keys and the encryption key; and the
// example's placeholders cannot be deployed by mistake: jwtcache refuses
// to start, naming each of them.
func checkSettings(t *testing.T, cm, secret map[string]string) {
	t.Helper()
	keys := map[string]config.KeyDoc{}
	for _, k := range config.Keys() {
		keys[k.Env] = k
	}
	for name := range cm {
		if k, ok := keys[name]; !ok || k.Secret {
			t.Errorf("ConfigMap %s: not a non-secret configuration variable", name)
		}
	}
	for _, name := range []string{"JWT_TOKEN_SERVICE_URL", "JWT_CLIENT_ID", "JWT_TOKEN_SCOPE", "JWT_GRANT_TYPE",
		"JWT_RENEWAL_BUFFER", "REDIS_HOST", "REDIS_PORT", "REDIS_DATABASE", "REDIS_TIMEOUT", "CACHE_TTL"} {
		if _, ok := cm[name]; !ok {
			t.Errorf("the ConfigMap lacks the guide's %s", name)
		}
	}
	for name := range secret {
		if k, ok := keys[name]; !ok || !k.Secret {
			t.Errorf("Secret %s: not a secret configuration variable", name)
		}
	}
	for _, name := range []string{"JWT_CLIENT_SECRET", "JWT_API_KEYS", "JWT_CACHE_ENCRYPTION_KEY"} {
		if _, ok := secret[name]; !ok {
			t.Errorf("the Secret lacks %s", name)
		}
	}
	var environ []string
	for _, m := range []map[string]string{cm, secret} {
		for k, v := range m {
			environ = append(environ, k+"="+v)
		}
	}
	_, err := config.Load(config.LoadOptions{Environ: environ})
	if err == nil {
		t.Fatal("the ConfigMap with the example Secret loads: a placeholder would reach production")
	}
	for _, name := range []string{"JWT_CLIENT_SECRET", "JWT_API_KEYS", "JWT_CACHE_ENCRYPTION_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the example's %s is not refused: %v", name, err)
		}
	}
	// With real values in its place, the same configuration loads.
	deployedConfig(t, cm)
}

// deployedConfig is the configuration the ConfigMap cm gives with the
// Secret filled in.
func deployedConfig(t *testing.T, cm map[string]string) config.Config {
	t.Helper()
	real := map[string]string{
		"JWT_CLIENT_SECRET":        "a-real-secret",
		"JWT_API_KEYS":             "k3y-for-everything-0123456789",
		"JWT_CACHE_ENCRYPTION_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
	}
	var environ []string
	for k, v := range cm {
		environ = append(environ, k+"="+v)
	}
	for k, v := range real {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(config.LoadOptions{Environ: environ})
	if err != nil {
		t.Fatalf("the ConfigMap with a filled-in Secret does not load: %v", err)
	}
	return cfg
}

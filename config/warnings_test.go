package config

import (
	"strings"
	"testing"
	"time"
)

func TestWarnUnknownVariables(t *testing.T) {
	t.Parallel()
	const value = "s3cr3t-VALUE-never-shown"
	env := []string{
		"JWT_RENEWAL_BUFER=" + value,           // typo
		"REDIS_PASWORD=" + value,               // typo of a secret's name
		"CACHE_TIPE=" + value,                  // typo
		"JWT_TOKEN_SERVICE_URI=" + value,       // near miss
		"JWT_RENEWAL_BUFFER=20",                // known
		"JWT_CONFIG_FILE=",                     // known, read by Load itself
		"REDIS_PORT_6379_TCP_ADDR=10.0.0.1",    // Kubernetes service link
		"REDIS_SERVICE_HOST=10.0.0.1",          // Kubernetes service link
		"REDIS_PORT_6379_TCP=tcp://10.0.0.1:1", // Kubernetes service link
		"JWTCACHE_REQUIRE_REDIS=1",             // not one of the prefixes
		"HOME=/root",
	}
	c := mustLoad(t, LoadOptions{Environ: env})
	want := map[string]string{
		"JWT_RENEWAL_BUFER":     "JWT_RENEWAL_BUFFER",
		"REDIS_PASWORD":         "REDIS_PASSWORD",
		"CACHE_TIPE":            "CACHE_TYPE",
		"JWT_TOKEN_SERVICE_URI": "JWT_TOKEN_SERVICE_URL",
	}
	got := map[string]string{}
	for _, w := range c.Origin.Warnings {
		if strings.Contains(w.Message, value) || strings.Contains(w.Message, "10.0.0.1") {
			t.Errorf("warning %q shows a value", w.Message)
		}
		if strings.HasPrefix(w.Env, "CACHE_TTL") {
			continue
		}
		got[w.Env] = w.Message
	}
	for name, closest := range want {
		msg, ok := got[name]
		if !ok {
			t.Errorf("no warning for %s", name)
			continue
		}
		if !strings.Contains(msg, name) || !strings.Contains(msg, "did you mean "+closest+"?") {
			t.Errorf("warning for %s: %q, want it to name %s", name, msg, closest)
		}
		delete(got, name)
	}
	for name, msg := range got {
		t.Errorf("unexpected warning for %s: %q", name, msg)
	}
}

// TestWarnPlaceholderVariablesAreRead: a variable the YAML file reads
// through a ${NAME} placeholder is read, so not unknown.
func TestWarnPlaceholderVariablesAreRead(t *testing.T) {
	t.Parallel()
	file := writeYAML(t, "spring:\n  data:\n    redis:\n      password: ${REDIS_PW}\n")
	c := mustLoad(t, LoadOptions{File: file, Environ: []string{"REDIS_PW=x", "REDIS_PWD=y"}})
	var names []string
	for _, w := range c.Origin.Warnings {
		names = append(names, w.Env)
	}
	if strings.Join(names, ",") != "REDIS_PWD" {
		t.Errorf("warnings for %v, want only REDIS_PWD", names)
	}
}

func TestWarnShortCacheTTL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		warn  bool
	}{
		{"1800000", false}, // the guide's: 30 minutes
		{"60000", false},   // exactly a minute
		{"59999", true},
		{"1800", true}, // meant as seconds, read as 1.8 s
		{"30s", true},
		{"", false}, // the default, 30m
	} {
		env := []string{}
		if tt.value != "" {
			env = append(env, "CACHE_TTL="+tt.value)
		}
		c := mustLoad(t, LoadOptions{Environ: env})
		var msg string
		for _, w := range c.Origin.Warnings {
			if w.Env == "CACHE_TTL" {
				msg = w.Message
			}
		}
		if (msg != "") != tt.warn {
			t.Errorf("CACHE_TTL=%s: warning %q, want one: %v", tt.value, msg, tt.warn)
			continue
		}
		if tt.warn && (!strings.Contains(msg, "milliseconds") || !strings.Contains(msg, "1800000") || strings.Contains(msg, "="+tt.value)) {
			t.Errorf("CACHE_TTL=%s: warning %q should say bare numbers are milliseconds, with the guide's 1800000", tt.value, msg)
		}
	}
	if c := mustLoad(t, LoadOptions{Environ: []string{"CACHE_TTL=1800"}}); c.Cache.TTL != 1800*time.Millisecond {
		t.Errorf("CACHE_TTL=1800 is %v", c.Cache.TTL)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"abc", "", 3}, {"kitten", "sitting", 3},
		{"JWT_RENEWAL_BUFER", "JWT_RENEWAL_BUFFER", 1}, {"CACHE_TIPE", "CACHE_TYPE", 1},
	} {
		if got := editDistance(tt.a, tt.b); got != tt.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestStartupWarnings: a misspelt variable and a CACHE_TTL that is too
// short are logged at start-up, naming the variable (and the closest known
// one), never the value.
func TestStartupWarnings(t *testing.T) {
	const value = "v4lue-N3VER-shown"
	var stderr bytes.Buffer
	env := []string{"JWT_RENEWAL_BUFER=" + value, "CACHE_TTL=1800", "REDIS_PASWORD=" + value}
	// Without a token service the command stops after the warnings.
	if code := run(context.Background(), []string{"serve"}, env, &bytes.Buffer{}, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	out := stderr.String()
	for _, want := range []string{
		"level=WARN", "JWT_RENEWAL_BUFER", "did you mean JWT_RENEWAL_BUFFER?",
		"REDIS_PASWORD", "did you mean REDIS_PASSWORD?",
		"CACHE_TTL (spring.cache.redis.time-to-live) is less than a minute", "milliseconds", "1800000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, value) {
		t.Errorf("the log shows a value:\n%s", out)
	}
}

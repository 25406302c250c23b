package config

import (
	"testing"
	"time"
)

func TestLoadLimits(t *testing.T) {
	t.Parallel()
	want := LimitsConfig{MaxServices: 2500, TokenRate: 0.5, TokenBurst: 50, RefreshMinInterval: 30 * time.Second}
	env := mustLoad(t, LoadOptions{Environ: []string{"JWT_MAX_SERVICES=2500", "JWT_TOKEN_RATE=0.5",
		"JWT_TOKEN_BURST=50", "JWT_REFRESH_MIN_INTERVAL=30"}})
	yaml := mustLoad(t, LoadOptions{Environ: []string{}, File: writeYAML(t, `
jwt:
  token:
    rate: 0.5
    burst: 50
    cache:
      max-services: 2500
      refresh:
        min-interval: 30s
`)})
	for via, got := range map[string]Config{"env": env, "yaml": yaml} {
		if got.Limits != want {
			t.Errorf("%s: Limits = %+v, want %+v", via, got.Limits, want)
		}
	}
	// 0 turns each off, and is not an error.
	off := mustLoad(t, LoadOptions{Environ: []string{"JWT_MAX_SERVICES=0", "JWT_TOKEN_RATE=0", "JWT_REFRESH_MIN_INTERVAL=0"}})
	if off.Limits != (LimitsConfig{TokenBurst: 500}) {
		t.Errorf("off: Limits = %+v", off.Limits)
	}
}

package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// LimitsConfig bounds what callers can make jwtcache do: how many service
// names it holds, how often it asks the token service for them, and how
// often a forced refresh reaches it. Each has a safe default; see the
// README's "Limits".
type LimitsConfig struct {
	// MaxServices is the most service names held; a new name beyond it is
	// refused (503 too_many_services). 0 means no limit.
	MaxServices int
	// TokenRate is each token-service client's budget of calls a second
	// for misses and forced refreshes, in bursts of up to TokenBurst;
	// beyond it callers get 429 rate_limited. 0 turns the budget off.
	TokenRate  float64
	TokenBurst int
	// RefreshMinInterval is the least time between two forced refreshes
	// of a service reaching the token service; a refresh within it gets
	// the previous refresh's token. 0 turns the floor off.
	RefreshMinInterval time.Duration
}

// floatValue parses a decimal number such as 20 or 0.5.
func floatValue(field func(*Config) *float64, check func(float64) string) binding {
	b := binding{set: func(c *Config, raw string) string {
		if raw == "" {
			*field(c) = 0
			return ""
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("%s is not a number", echo(raw))
		}
		*field(c) = f
		return ""
	}}
	if check != nil {
		b.check = func(c *Config) string { return check(*field(c)) }
	}
	return b
}

// tokenRate checks JWT_TOKEN_RATE: 0 turns the budget off; anything else
// is at least domain.MinRate, one call every 1000 s, the slowest rate the
// budget keeps (a smaller one, 1e-300 say, once turned it off unnoticed).
func tokenRate(f float64) string {
	if f != 0 && f < domain.MinRate {
		return fmt.Sprintf("%v must be 0 (off) or at least %v", f, domain.MinRate)
	}
	return ""
}

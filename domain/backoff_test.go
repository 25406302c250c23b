package domain_test

import (
	"math"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

func TestBackoffDelayAtTheBoundaries(t *testing.T) {
	b := domain.Backoff{Min: time.Second, Max: 30 * time.Second}
	tests := []struct {
		name       string
		b          domain.Backoff
		attempt    int
		jitter     float64
		retryAfter time.Duration
		want       time.Duration
	}{
		{"first attempt, no jitter: half of Min", b, 1, 0, 0, 500 * time.Millisecond},
		{"first attempt, jitter 0.5", b, 1, 0.5, 0, 750 * time.Millisecond},
		{"zeroth attempt is the first", b, 0, 0, 0, 500 * time.Millisecond},
		{"second attempt doubles", b, 2, 0, 0, time.Second},
		{"fifth attempt: 16s step", b, 5, 0, 0, 8 * time.Second},
		{"sixth attempt: 32s step capped at Max", b, 6, 0, 0, 15 * time.Second},
		{"far attempt stays at Max", b, 1000, 0, 0, 15 * time.Second},
		{"jitter just under 1 stays under the step", b, 6, 0.999, 0, 15*time.Second + time.Duration(float64(15*time.Second)*0.999)},
		{"jitter above 1 is clamped", b, 6, 7, 0, 15*time.Second + time.Duration(float64(15*time.Second)*0.999)},
		{"negative jitter is clamped", b, 1, -1, 0, 500 * time.Millisecond},
		{"Retry-After just over the delay wins", b, 1, 0, 500*time.Millisecond + 1, 500*time.Millisecond + 1},
		{"Retry-After equal to the delay", b, 1, 0, 500 * time.Millisecond, 500 * time.Millisecond},
		{"Retry-After just under the delay loses", b, 1, 0, 500*time.Millisecond - 1, 500 * time.Millisecond},
		{"Retry-After beyond Max wins", b, 6, 0, time.Minute, time.Minute},
		{"Max below Min is Min", domain.Backoff{Min: 4 * time.Second, Max: time.Second}, 3, 0, 0, 2 * time.Second},
		{"zero Min gives zero", domain.Backoff{}, 3, 0.5, 0, 0},
		// One answer must not silence a service name for years.
		{"Retry-After at the cap", b, 1, 0, domain.MaxRetryAfter, domain.MaxRetryAfter},
		{"Retry-After just over the cap is the cap", b, 1, 0, domain.MaxRetryAfter + 1, domain.MaxRetryAfter},
		{"huge Retry-After is the cap", b, 1, 0, math.MaxInt64, domain.MaxRetryAfter},
		{"a cap of its own", domain.Backoff{Min: time.Second, Max: 30 * time.Second, MaxRetryAfter: time.Minute}, 1, 0, time.Hour, time.Minute},
		{"a cap below the backoff does not shorten the backoff", domain.Backoff{Min: time.Second, Max: 30 * time.Second, MaxRetryAfter: time.Second}, 6, 0, time.Hour, 15 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.b.Delay(tc.attempt, tc.jitter, tc.retryAfter); got != tc.want {
				t.Fatalf("Delay(%d, %v, %v) = %v, want %v", tc.attempt, tc.jitter, tc.retryAfter, got, tc.want)
			}
		})
	}
}

func TestStandingAtBoundaries(t *testing.T) {
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	tok := token(time.Hour)
	cacheExp := t0.Add(time.Hour - 20*time.Second)
	tests := []struct {
		name                 string
		at                   time.Time
		state                domain.State
		untilExp, untilCache int64
	}{
		{"issued", t0, domain.Fresh, 3600, 3580},
		{"cacheExpiresAt-1ns", cacheExp.Add(-time.Nanosecond), domain.Fresh, 20, 0},
		{"cacheExpiresAt-1s", cacheExp.Add(-time.Second), domain.Fresh, 21, 1},
		{"cacheExpiresAt", cacheExp, domain.Due, 20, 0},
		{"expiresAt-1ns", tok.ExpiresAt.Add(-time.Nanosecond), domain.Due, 0, 0},
		{"expiresAt", tok.ExpiresAt, domain.Expired, 0, 0},
		{"expiresAt+1h", tok.ExpiresAt.Add(time.Hour), domain.Expired, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.Standing(tok, tc.at)
			want := domain.Standing{State: tc.state, CacheExpiresAt: cacheExp, SecondsUntilExpiry: tc.untilExp, SecondsUntilCacheExpiry: tc.untilCache}
			if got != want {
				t.Fatalf("Standing = %+v, want %+v", got, want)
			}
		})
	}
}

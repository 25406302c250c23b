package domain_test

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// TestRateLimitBelowMinRate: a rate so small that one interval does not
// fit a Duration (1s/1e-300) once overflowed to the shortest interval and
// so turned the budget off; a positive rate below MinRate now counts as
// MinRate: one call every 1000 s.
func TestRateLimitBelowMinRate(t *testing.T) {
	interval := time.Duration(float64(time.Second) / domain.MinRate)
	for _, rate := range []float64{domain.MinRate, domain.MinRate / 2, 1e-300, 5e-324} {
		l := domain.RateLimit{Rate: rate, Burst: 1}
		if l.Off() {
			t.Fatalf("rate %v: Off", rate)
		}
		var b domain.Bucket
		b, wait := l.Take(b, t0)
		if wait != 0 {
			t.Fatalf("rate %v: the first call waits %v", rate, wait)
		}
		for _, tc := range []struct {
			after, wantWait time.Duration
		}{
			{time.Second, interval - time.Second},
			{interval - time.Nanosecond, time.Nanosecond},
			{interval, 0},
		} {
			if _, wait := l.Take(b, t0.Add(tc.after)); wait != tc.wantWait {
				t.Errorf("rate %v: a call %v after the first waits %v, want %v", rate, tc.after, wait, tc.wantWait)
			}
		}
	}
}

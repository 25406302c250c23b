package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// take runs n takes at now and reports how many were allowed.
func take(l domain.RateLimit, b *domain.Bucket, now time.Time, n int) int {
	ok := 0
	for range n {
		var wait time.Duration
		*b, wait = l.Take(*b, now)
		if wait == 0 {
			ok++
		}
	}
	return ok
}

func TestRateLimitAllowsTheBurstThenOneEveryInterval(t *testing.T) {
	l := domain.RateLimit{Rate: 10, Burst: 5} // one every 100ms
	var b domain.Bucket
	if got := take(l, &b, t0, 7); got != 5 {
		t.Fatalf("a full bucket allowed %d of 7 at once, want the burst of 5", got)
	}
	tests := []struct {
		name     string
		at       time.Duration // after t0
		wantWait time.Duration // 0: allowed
	}{
		{"interval-1ns", 100*time.Millisecond - time.Nanosecond, time.Nanosecond},
		{"interval", 100 * time.Millisecond, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, wait := l.Take(b, t0.Add(tc.at))
			if wait != tc.wantWait {
				t.Fatalf("Take at t0+%v waits %v, want %v", tc.at, wait, tc.wantWait)
			}
		})
	}
	// A refusal leaves the bucket as it was.
	refused, wait := l.Take(b, t0)
	if wait != 100*time.Millisecond || refused != b {
		t.Fatalf("refused Take: wait %v, bucket changed %v -> %v", wait, b, refused)
	}
	// Idle for the whole window refills to exactly the burst, not more.
	later := t0.Add(time.Hour)
	if got := take(l, &b, later, 6); got != 5 {
		t.Fatalf("after an idle hour %d of 6 allowed, want 5", got)
	}
}

func TestRateLimitRefillsAtTheRate(t *testing.T) {
	l := domain.RateLimit{Rate: 2, Burst: 1} // one every 500ms, no burst
	var b domain.Bucket
	allowed := 0
	// 10 s of a caller asking every 10 ms: 1 + 10 s × 2/s.
	for at := time.Duration(0); at <= 10*time.Second; at += 10 * time.Millisecond {
		allowed += take(l, &b, t0.Add(at), 1)
	}
	if allowed != 21 {
		t.Fatalf("allowed %d in 10 s at 2/s with a burst of 1, want 21", allowed)
	}
}

func TestRateLimitSpendNeverRefusesNorGoesIntoDebt(t *testing.T) {
	l := domain.RateLimit{Rate: 1, Burst: 3}
	var b domain.Bucket
	for range 100 { // background renewals: far more than the bucket holds
		b = l.Spend(b, t0)
	}
	// The bucket is empty, not 97 deep in debt: one second refills one.
	if _, wait := l.Take(b, t0); wait != time.Second {
		t.Fatalf("after spending everything, Take waits %v, want 1s", wait)
	}
	if _, wait := l.Take(b, t0.Add(time.Second)); wait != 0 {
		t.Fatalf("one interval after emptying, Take waits %v, want 0", wait)
	}
	// Spending takes what a caller would otherwise have had.
	var c domain.Bucket
	c = l.Spend(c, t0)
	if got := take(l, &c, t0, 3); got != 2 {
		t.Fatalf("after one spend, %d of 3 callers allowed, want 2", got)
	}
}

func TestRateLimitOffAndOddSettings(t *testing.T) {
	var b domain.Bucket
	if got := take(domain.RateLimit{}, &b, t0, 1000); got != 1000 {
		t.Fatalf("a zero RateLimit allowed %d of 1000, want all", got)
	}
	if got := take(domain.RateLimit{Rate: -1, Burst: 1}, &b, t0, 10); got != 10 {
		t.Fatalf("a negative rate allowed %d of 10, want all (off)", got)
	}
	b = domain.Bucket{}
	if got := take(domain.RateLimit{Rate: 1}, &b, t0, 3); got != 1 {
		t.Fatalf("burst 0 allowed %d at once, want 1 (a burst below 1 is 1)", got)
	}
	b = domain.Bucket{}
	if got := take(domain.RateLimit{Rate: 1e12, Burst: 2}, &b, t0, 5); got != 2 {
		t.Fatalf("a rate above one a nanosecond allowed %d at one instant, want the burst", got)
	}
	b = domain.Bucket{}
	huge := domain.RateLimit{Rate: 1e-9, Burst: 1 << 40} // the window overflows a Duration
	if got := take(huge, &b, t0, 3); got != 3 {
		t.Fatalf("an enormous burst allowed %d of 3", got)
	}
}

func TestLimitErrors(t *testing.T) {
	tms := &domain.TooManyServicesError{Service: "svc-1", Limit: 1000}
	if !errors.Is(tms, domain.ErrTooManyServices) || !strings.Contains(tms.Error(), "1000") {
		t.Fatalf("TooManyServicesError %q: not ErrTooManyServices or no limit in it", tms)
	}
	rl := &domain.RateLimitedError{Service: "kyc", RetryAfter: 1500 * time.Millisecond}
	if !errors.Is(rl, domain.ErrRateLimited) || !strings.Contains(rl.Error(), "1.5s") {
		t.Fatalf("RateLimitedError %q: not ErrRateLimited or no delay in it", rl)
	}
	var tse *domain.TokenServiceError
	if errors.As(rl, &tse) || errors.As(tms, &tse) {
		t.Fatal("a limit's refusal must not look like a token-service failure")
	}
}

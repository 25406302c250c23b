package app_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/app"
)

// TestFailingTokenServiceIsAskedLessAndLess: with nothing valid cached and
// the token service failing, the failure callers share lasts one backoff
// step, and the step doubles with each failure up to MaxBackoff. Two
// minutes of a caller asking ten times a second make a handful of calls,
// not one a second; the first success after recovery comes within the
// largest step.
func TestFailingTokenServiceIsAskedLessAndLess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &countingIssuer{lifetime: time.Hour}
		issuer.failing.Store(true)
		svc := newService(t, issuer, nil, nil) // 1s doubling to 30s, jitter 0.5
		defer svc.Close()

		start := time.Now()
		for time.Since(start) < 2*time.Minute {
			if _, err := svc.Token(t.Context(), "kyc"); err == nil {
				t.Fatal("Token succeeded with a failing token service")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// Steps (3/4 of each with jitter 0.5): 0.75, 1.5, 3, 6, 12, 22.5,
		// 22.5, ... seconds: 10 calls in two minutes.
		calls := issuer.times()
		if n := len(calls); n > 11 || n < 8 {
			t.Fatalf("%d token-service calls in 2 minutes of failures, want about 10 (escalating backoff)", n)
		}
		for i := 1; i < len(calls); i++ {
			if gap := calls[i].Sub(calls[i-1]); gap > app.DefaultMaxBackoff+100*time.Millisecond {
				t.Fatalf("call %d came %v after the previous one, more than the largest step", i, gap)
			}
		}

		issuer.failing.Store(false)
		recovered := time.Now()
		for {
			if _, err := svc.Token(t.Context(), "kyc"); err == nil {
				break
			}
			if time.Since(recovered) > app.DefaultMaxBackoff {
				t.Fatalf("no token %v after the token service recovered", app.DefaultMaxBackoff)
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The first success resets the backoff: a new run of failures
		// starts again from the first step.
		if _, err := svc.Evict(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		issuer.failing.Store(true)
		before := issuer.calls.Load()
		_, _ = svc.Token(t.Context(), "kyc")
		time.Sleep(app.DefaultMinBackoff)
		_, _ = svc.Token(t.Context(), "kyc")
		if n := issuer.calls.Load() - before; n != 2 {
			t.Fatalf("after a success, two failing requests %v apart made %d calls, want 2 (backoff reset)", app.DefaultMinBackoff, n)
		}
	})
}

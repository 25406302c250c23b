package app_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// TestHugeRetryAfterIsBounded: a token service (or a proxy in front of it)
// that answers one failure with a Retry-After of a century is asked again
// after domain.MaxRetryAfter, not never.
func TestHugeRetryAfterIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &retryAfterIssuer{countingIssuer: countingIssuer{lifetime: time.Hour}, retryAfter: 100 * 365 * 24 * time.Hour}
		issuer.failing.Store(true)
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()

		if _, err := svc.Token(t.Context(), "kyc"); err == nil {
			t.Fatal("Token succeeded with a failing token service")
		}
		time.Sleep(domain.MaxRetryAfter - time.Second)
		if _, err := svc.Token(t.Context(), "kyc"); err == nil {
			t.Fatal("Token succeeded with a failing token service")
		}
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("within the Retry-After the token service was asked %d times, want 1", n)
		}
		time.Sleep(2 * time.Second)
		issuer.failing.Store(false)
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatalf("after domain.MaxRetryAfter (%v): %v", domain.MaxRetryAfter, err)
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})
}

// TestEvictClearsTheSharedFailure: DELETE /evict is the operator's way to
// start a service name over; a failure shared with callers (for its
// Retry-After) goes with the token, so the next caller asks the token
// service at once.
func TestEvictClearsTheSharedFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		issuer := &retryAfterIssuer{countingIssuer: countingIssuer{lifetime: time.Hour}, retryAfter: 4 * time.Minute}
		issuer.failing.Store(true)
		svc := newService(t, issuer, nil, nil)
		defer svc.Close()

		for range 2 {
			if _, err := svc.Token(t.Context(), "kyc"); err == nil {
				t.Fatal("Token succeeded with a failing token service")
			}
		}
		if n := issuer.calls.Load(); n != 1 {
			t.Fatalf("calls = %d, want 1 (the failure is shared)", n)
		}
		if _, err := svc.Evict(t.Context(), "kyc"); err != nil {
			t.Fatal(err)
		}
		issuer.failing.Store(false)
		if _, err := svc.Token(t.Context(), "kyc"); err != nil {
			t.Fatalf("Token after Evict: %v (the shared failure outlived the eviction)", err)
		}
		if n := issuer.calls.Load(); n != 2 {
			t.Fatalf("calls = %d, want 2", n)
		}
	})
}

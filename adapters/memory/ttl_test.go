package memory

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// TestMaxTTLBoundsEveryToken: a token stays in the store at most MaxTTL
// after its Put, whatever expiry it claims (expires_in 9e9 is 285 years),
// as a Redis key does with CACHE_TTL; a token that expires sooner goes at
// its expiry.
func TestMaxTTLBoundsEveryToken(t *testing.T) {
	const ttl = 30 * time.Minute
	absurd := domain.Token{AccessToken: "forever", IssuedAt: epoch, ExpiresAt: epoch.Add(9e9 * time.Second)}
	short := domain.Token{AccessToken: "short", IssuedAt: epoch, ExpiresAt: epoch.Add(10 * time.Minute)}
	for _, tt := range []struct {
		name string
		s    func(*clocktest.FakeClock) *Store
		tok  domain.Token
		gone time.Duration // after the Put
	}{
		{"absurd expiry, CACHE_TTL", func(c *clocktest.FakeClock) *Store { return New(c, MaxTTL(ttl)) }, absurd, ttl},
		{"absurd expiry, default", func(c *clocktest.FakeClock) *Store { return New(c) }, absurd, DefaultMaxTTL},
		{"short token goes at its expiry", func(c *clocktest.FakeClock) *Store { return New(c, MaxTTL(ttl)) }, short, 9 * time.Minute}, // put 1m after its issue
		{"small CACHE_TTL", func(c *clocktest.FakeClock) *Store { return New(c, MaxTTL(time.Second)) }, short, time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.NewFakeClock(epoch)
			s := tt.s(clock)
			ctx := t.Context()
			clock.Advance(time.Minute) // the Put comes later than the issue
			if err := s.Put(ctx, "kyc", tt.tok); err != nil {
				t.Fatal(err)
			}
			clock.Advance(tt.gone - time.Nanosecond)
			if got, err := s.Get(ctx, "kyc"); err != nil || got != tt.tok {
				t.Fatalf("1ns before the bound: %v, %v; want the token unchanged", got, err)
			}
			if entries, _ := s.List(ctx); len(entries) != 1 {
				t.Fatalf("List 1ns before the bound: %d entries", len(entries))
			}
			clock.Advance(time.Nanosecond)
			if _, err := s.Get(ctx, "kyc"); err == nil {
				t.Fatal("Get at the bound returned the token")
			}
			if entries, _ := s.List(ctx); len(entries) != 0 {
				t.Fatalf("List at the bound: %d entries", len(entries))
			}
			if ok, _ := s.Delete(ctx, "kyc"); ok {
				t.Fatal("Delete at the bound reported a token")
			}
			// A new Put starts a new bound.
			if err := s.Put(ctx, "kyc", absurd); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "kyc"); err != nil {
				t.Fatalf("Get after a new Put: %v", err)
			}
		})
	}
	if DefaultMaxTTL != 30*time.Minute {
		t.Errorf("DefaultMaxTTL = %v, want the guide's CACHE_TTL default, 30m", DefaultMaxTTL)
	}
}

func TestMaxTTLMustBePositive(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MaxTTL(0) did not panic")
		}
	}()
	New(nil, MaxTTL(0))
}

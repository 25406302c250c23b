package memory

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports/clocktest"
)

// TestMaxTTLBoundsEveryToken: a token stays in the store at most until the
// end of its cached life, MaxTTL after it was fetched (IssuedAt), whatever
// expiry it claims (expires_in 9e9 is 285 years), as a Redis key does with
// CACHE_TTL and as the renewal policy plans for; never more than MaxTTL
// after its Put (a token without an IssuedAt, or from a clock ahead); and
// a token that expires sooner goes at its expiry.
func TestMaxTTLBoundsEveryToken(t *testing.T) {
	const ttl = 30 * time.Minute
	absurd := domain.Token{AccessToken: "forever", IssuedAt: epoch, ExpiresAt: epoch.Add(9e9 * time.Second)}
	short := domain.Token{AccessToken: "short", IssuedAt: epoch, ExpiresAt: epoch.Add(10 * time.Minute)}
	undated := domain.Token{AccessToken: "undated", ExpiresAt: epoch.Add(9e9 * time.Second)}
	ahead := domain.Token{AccessToken: "ahead", IssuedAt: epoch.Add(time.Hour), ExpiresAt: epoch.Add(9e9 * time.Second)}
	withTTL := func(d time.Duration) func(*clocktest.FakeClock) *Store {
		return func(c *clocktest.FakeClock) *Store { return New(c, MaxTTL(d)) }
	}
	for _, tt := range []struct {
		name     string
		s        func(*clocktest.FakeClock) *Store
		tok      domain.Token
		putAfter time.Duration // after epoch, the token's issue
		gone     time.Duration // after the Put
	}{
		{"absurd expiry, CACHE_TTL from the fetch", withTTL(ttl), absurd, time.Minute, ttl - time.Minute},
		{"absurd expiry, default", func(c *clocktest.FakeClock) *Store { return New(c) }, absurd, time.Minute, DefaultMaxTTL - time.Minute},
		{"short token goes at its expiry", withTTL(ttl), short, time.Minute, 9 * time.Minute},
		{"small CACHE_TTL", withTTL(time.Second), short, 0, time.Second},
		{"no IssuedAt: CACHE_TTL from the Put", withTTL(ttl), undated, time.Minute, ttl},
		{"issued ahead of this clock: CACHE_TTL from the Put", withTTL(ttl), ahead, time.Minute, ttl},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := clocktest.NewFakeClock(epoch)
			s := tt.s(clock)
			ctx := t.Context()
			clock.Advance(tt.putAfter) // the Put may come later than the issue
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
			// A token fetched now starts a new cached life.
			fresh := domain.Token{AccessToken: "fresh", IssuedAt: clock.Now(), ExpiresAt: clock.Now().Add(time.Hour)}
			if err := s.Put(ctx, "kyc", fresh); err != nil {
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

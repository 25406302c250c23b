package domain_test

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

var t0 = time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)

func token(lifetime time.Duration) domain.Token {
	return domain.Token{AccessToken: "a.b.c", TokenType: "Bearer", IssuedAt: t0, ExpiresAt: t0.Add(lifetime)}
}

func TestStateAtBoundaries(t *testing.T) {
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	tok := token(time.Hour)
	cacheExp := t0.Add(time.Hour - 20*time.Second)
	tests := []struct {
		name string
		at   time.Time
		want domain.State
	}{
		{"issued", t0, domain.Fresh},
		{"cacheExpiresAt-1ns", cacheExp.Add(-time.Nanosecond), domain.Fresh},
		{"cacheExpiresAt", cacheExp, domain.Due},
		{"cacheExpiresAt+1ns", cacheExp.Add(time.Nanosecond), domain.Due},
		{"expiresAt-1ns", tok.ExpiresAt.Add(-time.Nanosecond), domain.Due},
		{"expiresAt", tok.ExpiresAt, domain.Expired},
		{"expiresAt+1ns", tok.ExpiresAt.Add(time.Nanosecond), domain.Expired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.State(tok, tc.at); got != tc.want {
				t.Fatalf("State at %s = %s, want %s", tc.name, got, tc.want)
			}
		})
	}
	if got := p.CacheExpiresAt(tok); !got.Equal(cacheExp) {
		t.Fatalf("CacheExpiresAt = %v, want %v", got, cacheExp)
	}
}

func TestEffectiveBufferIsCappedAtHalfTheLifetime(t *testing.T) {
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	tests := []struct {
		name     string
		lifetime time.Duration
		want     time.Duration
	}{
		{"long token keeps the buffer", time.Hour, 20 * time.Second},
		{"exactly twice the buffer", 40 * time.Second, 20 * time.Second},
		{"shorter than twice the buffer", 30 * time.Second, 15 * time.Second},
		{"shorter than the buffer", 10 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(tc.lifetime)
			if got := p.EffectiveBuffer(tok); got != tc.want {
				t.Fatalf("EffectiveBuffer = %v, want %v", got, tc.want)
			}
			if p.State(tok, t0) != domain.Fresh {
				t.Fatal("a just-issued token must be fresh whatever its lifetime")
			}
		})
	}
	if got := (domain.RenewalPolicy{Buffer: -time.Second}).EffectiveBuffer(token(time.Hour)); got != 0 {
		t.Fatalf("negative buffer gives %v, want 0", got)
	}
}

func TestRenewAtIsAheadOfTheBufferAndJittered(t *testing.T) {
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	tests := []struct {
		name     string
		lifetime time.Duration
		lead     time.Duration
	}{
		{"one hour: lead capped at 10s", time.Hour, 10 * time.Second},
		{"five minutes: a tenth of the fresh span", 5 * time.Minute, 28 * time.Second},
		{"forty seconds: a tenth of 20s", 40 * time.Second, 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := token(tc.lifetime)
			cacheExp := p.CacheExpiresAt(tok)
			if got := p.RenewalLead(tok); got != min(tc.lead, 10*time.Second) {
				t.Fatalf("RenewalLead = %v, want %v", got, min(tc.lead, 10*time.Second))
			}
			lead := p.RenewalLead(tok)
			if got, want := p.RenewAt(tok, 0), cacheExp.Add(-lead); !got.Equal(want) {
				t.Fatalf("RenewAt(0) = %v, want %v", got, want)
			}
			if got, want := p.RenewAt(tok, 0.5), cacheExp.Add(-lead-lead/2); !got.Equal(want) {
				t.Fatalf("RenewAt(0.5) = %v, want %v", got, want)
			}
			start := p.RenewalWindowStart(tok)
			if got := p.RenewAt(tok, 5); got.Before(start) || !got.Before(cacheExp) {
				t.Fatalf("RenewAt(out of range) = %v, outside [%v, %v)", got, start, cacheExp)
			}
			if p.InRenewalWindow(tok, start.Add(-time.Nanosecond)) || !p.InRenewalWindow(tok, start) {
				t.Fatal("InRenewalWindow must switch exactly at RenewalWindowStart")
			}
		})
	}
}

func TestTokenNeverPrintsItsCredential(t *testing.T) {
	tok := domain.Token{AccessToken: "secret-jwt-value", TokenType: "Bearer", IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	for _, s := range []string{tok.String(), tok.GoString()} {
		if contains(s, "secret-jwt-value") {
			t.Fatalf("%q leaks the token", s)
		}
	}
	if tok.AuthorizationHeader() != "Bearer secret-jwt-value" {
		t.Fatalf("AuthorizationHeader = %q", tok.AuthorizationHeader())
	}
	if !tok.Expired(tok.ExpiresAt) || tok.Expired(tok.ExpiresAt.Add(-time.Nanosecond)) {
		t.Fatal("Expired must switch exactly at ExpiresAt")
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestNormalizeTokenType(t *testing.T) {
	for in, want := range map[string]string{"bearer": "Bearer", "BEARER": "Bearer", "Bearer": "Bearer", "": "Bearer", "DPoP": "DPoP", "mac": "mac"} {
		if got := domain.NormalizeTokenType(in); got != want {
			t.Errorf("NormalizeTokenType(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCachedUntilIsTheEarlierOfExpiryAndFetchPlusMaxLife(t *testing.T) {
	tok := token(time.Hour)
	tests := []struct {
		name    string
		tok     domain.Token
		maxLife time.Duration
		want    time.Time
	}{
		{"no cap", tok, 0, tok.ExpiresAt},
		{"negative is no cap", tok, -time.Minute, tok.ExpiresAt},
		{"cap shorter than the lifetime", tok, 30 * time.Minute, t0.Add(30 * time.Minute)},
		{"cap 1ns shorter than the lifetime", tok, time.Hour - time.Nanosecond, tok.ExpiresAt.Add(-time.Nanosecond)},
		{"cap exactly the lifetime", tok, time.Hour, tok.ExpiresAt},
		{"cap 1ns longer than the lifetime", tok, time.Hour + time.Nanosecond, tok.ExpiresAt},
		{"no IssuedAt: expiry alone", domain.Token{AccessToken: "x", ExpiresAt: tok.ExpiresAt}, time.Minute, tok.ExpiresAt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.CachedUntil(tc.maxLife); !got.Equal(tc.want) {
				t.Fatalf("CachedUntil(%v) = %v, want %v", tc.maxLife, got, tc.want)
			}
		})
	}
}

func TestMaxLifeRenewsAheadOfTheEndOfTheCachedLife(t *testing.T) {
	tok := token(time.Hour)
	buffer := 20 * time.Second
	bufferEdge := time.Hour - buffer // the guide's cacheExpiresAt
	tests := []struct {
		name       string
		maxLife    time.Duration
		renewBy    time.Time
		lifeCapped bool
	}{
		{"no cap: the buffer decides", 0, t0.Add(bufferEdge), false},
		{"guide's 30 min cap on a 1 h token", 30 * time.Minute, t0.Add(30 * time.Minute), true},
		{"cap 1ns before the buffer", bufferEdge - time.Nanosecond, t0.Add(bufferEdge - time.Nanosecond), true},
		{"cap exactly at the buffer", bufferEdge, t0.Add(bufferEdge), false},
		{"cap 1ns after the buffer", bufferEdge + time.Nanosecond, t0.Add(bufferEdge), false},
		{"cap longer than the token", 2 * time.Hour, t0.Add(bufferEdge), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := domain.RenewalPolicy{Buffer: buffer, MaxLife: tc.maxLife}
			if got := p.RenewBy(tok); !got.Equal(tc.renewBy) {
				t.Fatalf("RenewBy = %v, want %v", got, tc.renewBy)
			}
			if p.LifeCapped(tok) != tc.lifeCapped {
				t.Fatalf("LifeCapped = %v, want %v", !tc.lifeCapped, tc.lifeCapped)
			}
			// Freshness is the guide's, whatever the cap.
			if got := p.CacheExpiresAt(tok); !got.Equal(t0.Add(bufferEdge)) {
				t.Fatalf("CacheExpiresAt = %v, want the guide's %v", got, t0.Add(bufferEdge))
			}
			// Renewal, by the fetcher or a back-up, starts ahead of the
			// cached life's end, never after it.
			end := tok.CachedUntil(tc.maxLife)
			if w := p.RenewalWindowStart(tok); !w.Before(tc.renewBy) || w.Before(tok.IssuedAt) {
				t.Fatalf("RenewalWindowStart = %v, want in [IssuedAt, %v)", w, tc.renewBy)
			}
			if at := p.RenewAt(tok, 0.999); !at.Before(end) {
				t.Fatalf("RenewAt = %v, not before the store drops the token at %v", at, end)
			}
			if at := p.BackupRenewAt(tok, 0.999); !at.Before(end) || !at.Before(tc.renewBy) {
				t.Fatalf("BackupRenewAt = %v, not before %v", at, tc.renewBy)
			}
		})
	}
}

func TestBackupRenewalComesAfterTheFetchersAndBeforeTheBuffer(t *testing.T) {
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	tok := token(time.Hour)
	cacheExp := p.CacheExpiresAt(tok) // 59m40s; lead 10 s
	latestLeader := p.RenewAt(tok, 0)
	tests := []struct {
		name   string
		jitter float64
		want   time.Time
	}{
		{"jitter 0: 0.6 lead before", 0, cacheExp.Add(-6 * time.Second)},
		{"jitter 0.5", 0.5, cacheExp.Add(-4 * time.Second)},
		{"jitter just under 1: 0.2 lead before", 0.999, cacheExp.Add(-2004 * time.Millisecond)},
		{"negative jitter as 0", -1, cacheExp.Add(-6 * time.Second)},
		{"jitter 1 as just under", 1, cacheExp.Add(-2004 * time.Millisecond)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.BackupRenewAt(tok, tc.jitter)
			if !got.Equal(tc.want) {
				t.Fatalf("BackupRenewAt = %v, want %v", got, tc.want)
			}
			if !got.After(latestLeader) {
				t.Fatalf("BackupRenewAt %v is not after the latest RenewAt %v", got, latestLeader)
			}
			if !got.Before(cacheExp) {
				t.Fatalf("BackupRenewAt %v is not before CacheExpiresAt %v", got, cacheExp)
			}
		})
	}
	if got, want := p.MeanRenewalAfter(tok), 59*time.Minute+25*time.Second; got != want {
		t.Fatalf("MeanRenewalAfter = %v, want %v (1.5 leads before cacheExpiresAt)", got, want)
	}
}

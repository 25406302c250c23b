package domain_test

import (
	"testing"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

func TestServableUntil(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tok := func(life time.Duration) domain.Token {
		return domain.Token{AccessToken: "x", IssuedAt: at, ExpiresAt: at.Add(life)}
	}
	p := domain.RenewalPolicy{Buffer: 20 * time.Second}
	cases := []struct {
		name string
		tok  domain.Token
		now  time.Time
		want bool
	}{
		{"hour token, margin - 1ns", tok(time.Hour), at.Add(time.Hour - time.Second - time.Nanosecond), true},
		{"hour token, exactly at margin", tok(time.Hour), at.Add(time.Hour - time.Second), false},
		{"hour token, inside the margin", tok(time.Hour), at.Add(time.Hour - time.Millisecond), false},
		{"5s token: a tenth is the margin, - 1ns", tok(5 * time.Second), at.Add(4500*time.Millisecond - time.Nanosecond), true},
		{"5s token: exactly a tenth before expiry", tok(5 * time.Second), at.Add(4500 * time.Millisecond), false},
		{"expired", tok(time.Hour), at.Add(time.Hour), false},
	}
	for _, c := range cases {
		if got := p.Servable(c.tok, c.now); got != c.want {
			t.Errorf("%s: Servable = %v, want %v", c.name, got, c.want)
		}
	}
	// With no buffer the margin would land after CacheExpiresAt... it never
	// makes a fresh token unservable.
	p0 := domain.RenewalPolicy{}
	hour := tok(time.Hour)
	if got, want := p0.ServableUntil(hour), hour.ExpiresAt; !got.Equal(want) {
		t.Errorf("no buffer: ServableUntil = %v, want CacheExpiresAt %v", got, want)
	}
	if got := p.ServeMargin(tok(-time.Second)); got != 0 {
		t.Errorf("negative lifetime margin = %v", got)
	}
}

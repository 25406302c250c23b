package domain

import "time"

// MaxServeMargin is the most life a token must still have to be handed out.
// A token is checked when it is served, but used a little later, after the
// answer has crossed the network: one served in its last millisecond
// arrives expired. Tokens inside their buffer are only served while renewal
// fails (see State), so the margin costs nothing while the token service is
// healthy.
const MaxServeMargin = time.Second

// ServeMargin is the life t must still have to be served: a tenth of its
// lifetime, at most MaxServeMargin, so that very short tokens stay usable.
func (p RenewalPolicy) ServeMargin(t Token) time.Duration {
	m := t.Lifetime() / 10
	if m > MaxServeMargin {
		m = MaxServeMargin
	}
	if m < 0 {
		m = 0
	}
	return m
}

// ServableUntil is the instant from which t is no longer handed out:
// ExpiresAt less ServeMargin. It is never before CacheExpiresAt, so a
// fresh token is always servable.
func (p RenewalPolicy) ServableUntil(t Token) time.Time {
	at := t.ExpiresAt.Add(-p.ServeMargin(t))
	if c := p.CacheExpiresAt(t); at.Before(c) {
		return c
	}
	return at
}

// Servable reports whether t may be handed out at now: before
// ServableUntil.
func (p RenewalPolicy) Servable(t Token, now time.Time) bool {
	return now.Before(p.ServableUntil(t))
}

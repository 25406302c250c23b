package domain

import "time"

// Standing is where a token stands at an instant, in the terms the status
// endpoints report it.
type Standing struct {
	State State
	// CacheExpiresAt is the instant the token stops being fresh.
	CacheExpiresAt time.Time
	// SecondsUntilExpiry and SecondsUntilCacheExpiry are whole seconds from
	// the instant to ExpiresAt and CacheExpiresAt, rounded down and never
	// negative.
	SecondsUntilExpiry, SecondsUntilCacheExpiry int64
}

// Standing reports where t stands at now.
func (p RenewalPolicy) Standing(t Token, now time.Time) Standing {
	cacheExp := p.CacheExpiresAt(t)
	return Standing{
		State:                   p.State(t, now),
		CacheExpiresAt:          cacheExp,
		SecondsUntilExpiry:      wholeSeconds(t.ExpiresAt.Sub(now)),
		SecondsUntilCacheExpiry: wholeSeconds(cacheExp.Sub(now)),
	}
}

func wholeSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d / time.Second)
}

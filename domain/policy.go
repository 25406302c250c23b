package domain

import "time"

// State is where a token stands in its life at a given instant.
type State int

const (
	// Fresh tokens are served as they are.
	Fresh State = iota
	// Due tokens are past their fresh life (inside their renewal buffer, or
	// past their cached life when the policy caps it): still valid, but a
	// renewal should already have replaced them. They are served only while
	// renewal is failing.
	Due
	// Expired tokens are never served.
	Expired
)

// String names the state as the REST API and logs spell it.
func (s State) String() string {
	switch s {
	case Fresh:
		return "fresh"
	case Due:
		return "due"
	default:
		return "expired"
	}
}

// DefaultRenewalBuffer is the guide's JWT_RENEWAL_BUFFER default.
const DefaultRenewalBuffer = 20 * time.Second

// maxRenewalLead bounds how far ahead of CacheExpiresAt a background renewal
// starts; it is the time a renewal gets to finish before callers would see a
// token inside its buffer.
const maxRenewalLead = 10 * time.Second

// RenewalPolicy decides, for a token and an instant, whether the token is
// fresh, due for renewal or expired, and when its background renewal should
// start.
//
// The guide renews Buffer before expiry (cacheExpiresAt = expiresAt −
// buffer). A token whose lifetime is not more than twice the buffer would be
// due as soon as it is issued and renewal would spin; for such tokens the
// effective buffer is capped at half the lifetime.
//
// A token's cached life may be shorter than its validity: with MaxLife
// (CACHE_TTL) set, every store drops a token at Token.CachedUntil(MaxLife),
// and the token is renewed ahead of that instant (RenewBy) like any other
// ahead of its buffer: once per cached life, so that no replica finds the
// store empty mid-life. Its freshness, as the status endpoints show it,
// still ends at the guide's cacheExpiresAt.
type RenewalPolicy struct {
	// Buffer is how long before expiry a token stops being fresh.
	Buffer time.Duration
	// MaxLife caps a token's cached life at IssuedAt + MaxLife; zero
	// means no cap.
	MaxLife time.Duration
}

// EffectiveBuffer is the buffer applied to t: Buffer, capped at half of t's
// lifetime.
func (p RenewalPolicy) EffectiveBuffer(t Token) time.Duration {
	b := p.Buffer
	if b < 0 {
		b = 0
	}
	if half := t.Lifetime() / 2; b > half {
		b = half
	}
	return b
}

// CacheExpiresAt is the instant t stops being fresh: ExpiresAt less the
// effective buffer (the guide's cacheExpiresAt).
func (p RenewalPolicy) CacheExpiresAt(t Token) time.Time {
	return t.ExpiresAt.Add(-p.EffectiveBuffer(t))
}

// RenewBy is the instant by which t should have been replaced, the one its
// renewal is scheduled against: its CacheExpiresAt, or the end of its
// cached life, t.CachedUntil(MaxLife), if that is sooner, since every store
// drops t then and a replica missing after it would call the token service.
func (p RenewalPolicy) RenewBy(t Token) time.Time {
	at := p.CacheExpiresAt(t)
	if end := t.CachedUntil(p.MaxLife); end.Before(at) {
		return end
	}
	return at
}

// LifeCapped reports whether MaxLife, not the buffer, decides when t is
// renewed: earlier than its expiry alone would need.
func (p RenewalPolicy) LifeCapped(t Token) bool {
	return t.CachedUntil(p.MaxLife).Before(p.CacheExpiresAt(t))
}

// State reports where t stands at now. The boundaries are exact: t is fresh
// up to but not including CacheExpiresAt, due from CacheExpiresAt up to but
// not including ExpiresAt, and expired from ExpiresAt on.
func (p RenewalPolicy) State(t Token, now time.Time) State {
	switch {
	case !now.Before(t.ExpiresAt):
		return Expired
	case !now.Before(p.CacheExpiresAt(t)):
		return Due
	default:
		return Fresh
	}
}

// RenewalLead is how long before RenewBy the background renewal of t
// starts at the earliest jitter: a tenth of the span up to RenewBy, at most
// ten seconds. Renewing ahead of CacheExpiresAt is what keeps callers from
// ever being handed a token inside its buffer while the token service is
// healthy.
func (p RenewalPolicy) RenewalLead(t Token) time.Duration {
	lead := p.RenewBy(t).Sub(t.IssuedAt) / 10
	if lead > maxRenewalLead {
		lead = maxRenewalLead
	}
	if lead < 0 {
		lead = 0
	}
	return lead
}

// RenewalWindowStart is the earliest instant a background renewal of t may
// start (RenewAt with the largest jitter). From then on a replacement is
// wanted; before it, t needs no renewal.
func (p RenewalPolicy) RenewalWindowStart(t Token) time.Time {
	at := p.RenewBy(t).Add(-2 * p.RenewalLead(t))
	if at.Before(t.IssuedAt) {
		return t.IssuedAt
	}
	return at
}

// InRenewalWindow reports whether now is at or after t's
// RenewalWindowStart: whoever holds t should now obtain a replacement. It
// becomes true before State is Due (the window opens ahead of RenewBy,
// which is not after CacheExpiresAt) and stays true once t is expired. A token not
// InRenewalWindow is the one a renewal is looking for.
func (p RenewalPolicy) InRenewalWindow(t Token, now time.Time) bool {
	return !now.Before(p.RenewalWindowStart(t))
}

// RenewAt is the instant the background renewal of t should start, given a
// jitter in [0, 1): between one and two RenewalLeads before RenewBy,
// so that replicas holding the same token do not all wake at once. The
// caller supplies the jitter so that this stays deterministic.
func (p RenewalPolicy) RenewAt(t Token, jitter float64) time.Time {
	if jitter < 0 {
		jitter = 0
	}
	if jitter >= 1 {
		jitter = 0.999
	}
	lead := p.RenewalLead(t)
	early := lead + time.Duration(float64(lead)*jitter)
	at := p.RenewBy(t).Add(-early)
	if at.Before(t.IssuedAt) {
		return t.IssuedAt
	}
	return at
}

// The back-up window: a replica holding a token it did not fetch renews it
// between backupEarliestTenths and backupLatestTenths tenths of a
// RenewalLead before RenewBy, leaving the renewal to the replica
// that fetched it (at least one lead before): the fetcher has at least 0.4
// leads (4 s for long-lived tokens) to renew and be heard before any
// back-up acts, and a back-up still renews 0.2 leads or more ahead of the
// buffer.
const (
	backupEarliestTenths = 6
	backupLatestTenths   = 2
)

// BackupRenewAt is the instant a replica that holds t but did not fetch it
// (it took t from another replica, through the store or a notification)
// renews t, given a jitter in [0, 1): between 0.6 and 0.2 RenewalLeads
// before RenewBy. It is later than RenewAt of any jitter, so the
// replica that fetched a token renews it, and the others only stand by: a
// fleet renews with one replica's work however many replicas hold the
// token, and still ahead of the buffer when that replica has gone.
func (p RenewalPolicy) BackupRenewAt(t Token, jitter float64) time.Time {
	if jitter < 0 {
		jitter = 0
	}
	if jitter >= 1 {
		jitter = 0.999
	}
	lead := p.RenewalLead(t)
	early := lead*backupEarliestTenths/10 - time.Duration(float64(lead*(backupEarliestTenths-backupLatestTenths)/10)*jitter)
	at := p.RenewBy(t).Add(-early)
	if at.Before(t.IssuedAt) {
		return t.IssuedAt
	}
	return at
}

// MeanRenewalAfter is how long after its issue t is renewed on average
// while the replica that fetched it lives: RenewAt with a uniform jitter,
// one and a half RenewalLeads before RenewBy, whatever the number of
// replicas holding t.
func (p RenewalPolicy) MeanRenewalAfter(t Token) time.Duration {
	lead := p.RenewalLead(t)
	return p.RenewBy(t).Sub(t.IssuedAt) - lead - lead/2
}

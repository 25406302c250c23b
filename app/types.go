package app

import (
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// TokenStatus describes one service's cached token at one instant, without
// the credential. It is what the status endpoints show.
type TokenStatus struct {
	Service string
	// Exists is false when nothing is cached for Service; the other fields
	// are then zero.
	Exists    bool
	TokenType string
	Scope     string
	// Lifetime is the token's expires_in.
	Lifetime       time.Duration
	IssuedAt       time.Time
	ExpiresAt      time.Time
	CacheExpiresAt time.Time
	// SecondsUntilExpiry and SecondsUntilCacheExpiry are whole seconds from
	// At, rounded down and never negative.
	SecondsUntilExpiry      int64
	SecondsUntilCacheExpiry int64
	State                   domain.State
	// Renewing is true while a renewal of this service runs on any replica
	// sharing the store.
	Renewing bool
	// BoundToCertificate is true for a certificate-bound token (RFC 8705).
	BoundToCertificate bool
	// This process's view, from its near cache; zero when it does not hold
	// this token. RenewAt is when its renewal timer for the token fires
	// (or fired); LastRenewal when it last replaced the service's token
	// with a new one; Failures its consecutive failed renewals, retried
	// with backoff while the token is still served (more than 0: failing).
	RenewAt     time.Time
	LastRenewal time.Time
	Failures    int
	// At is the instant the status describes.
	At time.Time
	// StoreError is empty when the status comes from the shared store.
	// Otherwise the store could not be read (within the store timeout),
	// the status is this replica's near cache only (Exists false when it
	// holds nothing), and StoreError says why, without secrets.
	StoreError string
}

// Partial reports whether the status is this replica's view only, the
// shared store being unreadable: see StoreError.
func (s TokenStatus) Partial() bool { return s.StoreError != "" }

// Expired reports whether the token is past its expiry at At.
func (s TokenStatus) Expired() bool { return s.Exists && s.State == domain.Expired }

// CacheExpired reports whether the token is past its cacheExpiresAt at At.
func (s TokenStatus) CacheExpired() bool { return s.Exists && s.State != domain.Fresh }

// NeedsRenewal reports whether the token should be (or is being) replaced:
// it is inside its renewal buffer or expired.
func (s TokenStatus) NeedsRenewal() bool { return s.CacheExpired() }

// Statuses is the status of every cached token.
type Statuses struct {
	At     time.Time
	Tokens []TokenStatus
	// StoreError is empty when Tokens are the shared store's. Otherwise the
	// store could not be read, Tokens are this replica's near cache, and
	// StoreError says why, without secrets.
	StoreError string
}

// Partial reports whether Tokens are this replica's near cache only, the
// shared store being unreadable: see StoreError.
func (s Statuses) Partial() bool { return s.StoreError != "" }

// Counters are this process's request counters since it started. Reading
// them touches no store, so they are there even while Redis is down.
type Counters struct {
	CacheHits            uint64
	CacheMisses          uint64
	TokenServiceRequests uint64
	TokenServiceFailures uint64
	Renewals             uint64
	RenewalFailures      uint64
	ForcedRefreshes      uint64
	Evictions            uint64
	// ServiceLimitRefusals counts names refused because the cache held
	// Options.MaxServices names; RateLimitRefusals, calls refused over a
	// client's budget; ReusedRefreshes, forced refreshes answered with the
	// token of one less than Options.RefreshMinInterval earlier.
	ServiceLimitRefusals uint64
	RateLimitRefusals    uint64
	ReusedRefreshes      uint64
	// StoreWriteFailures counts tokens the store would not take (full,
	// read-only, unreachable); each stayed served from this process.
	StoreWriteFailures uint64
}

// HitRatio is hits / (hits + misses), or 0 before the first request.
func (c Counters) HitRatio() float64 {
	total := c.CacheHits + c.CacheMisses
	if total == 0 {
		return 0
	}
	return float64(c.CacheHits) / float64(total)
}

// Statistics are the cache's figures: token counts describe the shared
// store; the Counters are this process's.
type Statistics struct {
	At             time.Time
	TotalTokens    int
	ActiveTokens   int
	ExpiredTokens  int
	RenewingTokens int
	Counters
	// StoreError is empty when the token counts describe the shared
	// store. Otherwise the store could not be read, they count this
	// replica's near cache, and StoreError says why, without secrets.
	StoreError string
}

// Partial reports whether the token counts are this replica's only, the
// shared store being unreadable: see StoreError.
func (s Statistics) Partial() bool { return s.StoreError != "" }

// HealthStatus is the overall or a component's health.
type HealthStatus string

// The health statuses of the guide's health endpoint.
const (
	StatusUp       HealthStatus = "UP"
	StatusDegraded HealthStatus = "DEGRADED"
	StatusDown     HealthStatus = "DOWN"
)

// ComponentHealth is the health of one dependency.
type ComponentHealth struct {
	Status HealthStatus
	// Detail says why a component is not UP, without secrets.
	Detail string
}

// Health is the service's health: UP when the store and the token service
// answer; DEGRADED when one of them does not but tokens can still be
// served; DOWN when no token can be served.
type Health struct {
	At           time.Time
	Status       HealthStatus
	Store        ComponentHealth
	TokenService ComponentHealth
}

// Healthy reports whether the service can serve tokens (UP or DEGRADED).
func (h Health) Healthy() bool { return h.Status != StatusDown }

// Eviction is what Evict removed.
type Eviction struct {
	Service string
	// Removed is false when nothing was cached for Service.
	Removed bool
	// Token describes the removed token (no credential), when Removed.
	Token TokenStatus
}

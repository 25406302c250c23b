package app

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// Defaults of the Options fields left zero.
const (
	DefaultCheckInterval   = 30 * time.Second
	DefaultCleanupInterval = 60 * time.Second
	DefaultIdleTimeout     = time.Hour
	DefaultLockTTL         = 30 * time.Second
	DefaultFetchTimeout    = 10 * time.Second
	DefaultMinBackoff      = time.Second
	DefaultMaxBackoff      = 30 * time.Second
	// defaultPollInterval is how often a replica waiting for another
	// replica's renewal looks at the store when it has no change feed,
	// doubling up to maxPollInterval.
	defaultPollInterval = 50 * time.Millisecond
	maxPollInterval     = 500 * time.Millisecond
	// feedPollInterval is how long a replica with a change feed waits for
	// the renewing replica's notification before it reads the store in case
	// the notification was lost, doubling up to maxPollInterval. A
	// notification normally arrives within milliseconds of the renewal.
	feedPollInterval = 250 * time.Millisecond
)

// Options configures a Cache. Issuer, Store and Locker are required; every
// other field is optional and has a documented default. The bundled stores
// are also the locker, the feed, the pruner and the pinger: pass the store
// in each of those fields.
type Options struct {
	// Issuer obtains tokens from the token service. Required.
	Issuer ports.TokenIssuer
	// Store keeps tokens where replicas can share them. Required.
	Store ports.TokenStore
	// Locker gives one renewer at a time the right to call the token
	// service for a service, across every replica sharing it. Required.
	Locker ports.RenewalLocker
	// Feed announces token changes (refreshes, evictions) to the other
	// replicas sharing Store, so that their near caches follow at once.
	// Optional: none, and a replica then sees another's change only when it
	// next reads the store.
	Feed ports.ChangeFeed
	// Pruner removes what expired from the shared store, at every cleanup,
	// without reading tokens. Optional: none, and the cleanup then tidies
	// only this process's near cache (a store whose entries expire by
	// themselves needs nothing more).
	Pruner ports.Pruner
	// Pinger checks the store for Health. Optional: none, and Health then
	// reports the store UP.
	Pinger ports.Pinger
	// Clock is the source of the current time. Optional: the system clock.
	Clock ports.Clock
	// Policy holds the renewal buffer and the longest cached life of a
	// token (MaxLife: give it the store's cap, CACHE_TTL, so that tokens are
	// renewed before the store drops them). Optional: a buffer of
	// domain.DefaultRenewalBuffer and no cap.
	Policy *domain.RenewalPolicy
	// CheckInterval is the period of the safety-net renewal check, jittered
	// per replica like CleanupInterval. Renewal timing does not depend on
	// it: each token has its own timer. Optional: DefaultCheckInterval.
	CheckInterval time.Duration
	// CleanupInterval is the period of the task removing expired tokens:
	// the first run comes after a random share of it, the next ones every
	// CleanupInterval ± 10 %, so that replicas started together do not
	// clean up together. Optional: DefaultCleanupInterval.
	CleanupInterval time.Duration
	// IdleTimeout stops renewing a token nobody asked this process for in
	// that long; it stays cached until it expires. Optional:
	// DefaultIdleTimeout; negative renews for ever.
	IdleTimeout time.Duration
	// LockTTL is how long a renewal lock lives if its holder dies. Optional:
	// DefaultLockTTL. It must exceed FetchTimeout.
	LockTTL time.Duration
	// FetchTimeout bounds one token-service call. Optional:
	// DefaultFetchTimeout.
	FetchTimeout time.Duration
	// MinBackoff and MaxBackoff bound the delay between retries of a failing
	// renewal. Optional: DefaultMinBackoff and DefaultMaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// StoreTimeout bounds each store command on a caller's path, lock
	// waits included, and the store reads of Status, Statuses, Statistics
	// and Health (REDIS_TIMEOUT). After it a fetch goes on without the
	// store. Optional: DefaultStoreTimeout.
	StoreTimeout time.Duration
	// Prober checks the token service without obtaining a token, every
	// HealthCheckInterval, for Health. Probes are not token requests: they
	// count nowhere in Counters. Optional: none, and Health then knows the
	// token service only from real calls.
	Prober ports.IssuerProber
	// HealthCheckInterval is the mean period of the probes (each one
	// jittered by up to a tenth). Optional: DefaultHealthCheckInterval;
	// at least MinHealthCheckInterval.
	HealthCheckInterval time.Duration
	// IssuerHealth reports a problem of the issuer that no call shows yet
	// (a credential file that went bad, a stale discovery document), read
	// by Health: nil when there is none; an error wrapping ErrIssuerDown
	// when no token can be obtained (the token service is DOWN); any other
	// error when tokens are still obtained but something needs attention
	// (DEGRADED). Optional.
	IssuerHealth func() error
	// Logger receives structured logs; never a token or a secret. Optional:
	// slog.Default().
	Logger *slog.Logger
	// Jitter returns a number in [0, 1) used to spread renewals and
	// retries. Optional: math/rand/v2.Float64.
	Jitter func() float64

	// MaxServices caps the service names this Cache holds: a name beyond
	// it with nothing cached is refused (domain.TooManyServicesError)
	// without a token-service call or an entry; names held keep working.
	// Optional: DefaultMaxServices; negative for no cap.
	MaxServices int
	// TokenRate and TokenBurst are each token-service client's budget:
	// calls callers cause (misses, forced refreshes) beyond TokenBurst at
	// once and TokenRate a second after are refused
	// (domain.RateLimitedError); background renewals are never refused
	// but spend the budget. Optional: DefaultTokenRate and
	// DefaultTokenBurst; a negative TokenRate turns the budget off.
	TokenRate  float64
	TokenBurst int
	// ClientKeys tells which client asks for a service's tokens, so that
	// each client has its own budget. Optional: one budget for all.
	ClientKeys ports.ClientKeyer
	// RefreshMinInterval is the least time between two token-service calls
	// for forced refreshes of one service: a Refresh within it of the
	// previous one answers with that refresh's token (RefreshResult.Reused).
	// Optional: DefaultRefreshMinInterval; negative for none.
	RefreshMinInterval time.Duration

	// OnClose runs once at the end of Close, after background work has
	// stopped: the place to release what the Cache was built on (a Redis
	// client, for instance). Optional.
	OnClose func() error
	// EventHistory is how many recent events Events keeps for new
	// subscribers; EventQueue how many may wait for one slow subscriber
	// before it loses some. Optional: DefaultEventHistory and
	// DefaultEventQueue.
	EventHistory, EventQueue int
}

// withDefaults returns o with every optional field filled in, or an error
// naming the first field that is wrong.
func (o Options) withDefaults() (Options, error) {
	if o.Issuer == nil {
		return o, errors.New("app: Options.Issuer is required")
	}
	if o.Store == nil {
		return o, errors.New("app: Options.Store is required")
	}
	if o.Locker == nil {
		return o, errors.New("app: Options.Locker is required")
	}
	if o.Clock == nil {
		o.Clock = ports.SystemClock
	}
	if o.Policy == nil {
		o.Policy = &domain.RenewalPolicy{Buffer: domain.DefaultRenewalBuffer}
	}
	if o.Policy.Buffer < 0 {
		return o, errors.New("app: Options.Policy.Buffer must not be negative")
	}
	setDefault(&o.CheckInterval, DefaultCheckInterval)
	setDefault(&o.CleanupInterval, DefaultCleanupInterval)
	setDefault(&o.IdleTimeout, DefaultIdleTimeout)
	setDefault(&o.LockTTL, DefaultLockTTL)
	setDefault(&o.FetchTimeout, DefaultFetchTimeout)
	setDefault(&o.MinBackoff, DefaultMinBackoff)
	setDefault(&o.MaxBackoff, DefaultMaxBackoff)
	setDefault(&o.StoreTimeout, DefaultStoreTimeout)
	setDefault(&o.HealthCheckInterval, DefaultHealthCheckInterval)
	if o.CheckInterval < 0 || o.CleanupInterval < 0 || o.LockTTL < 0 || o.FetchTimeout < 0 || o.MinBackoff < 0 || o.MaxBackoff < 0 ||
		o.StoreTimeout < 0 || o.HealthCheckInterval < 0 {
		return o, errors.New("app: Options durations must not be negative (except IdleTimeout)")
	}
	if o.HealthCheckInterval < MinHealthCheckInterval {
		return o, fmt.Errorf("app: Options.HealthCheckInterval must be at least %v, or probes would hammer the token service", MinHealthCheckInterval)
	}
	if o.LockTTL <= o.FetchTimeout {
		return o, errors.New("app: Options.LockTTL must exceed Options.FetchTimeout, or a slow renewal would outlive its lock")
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if err := o.limitDefaults(); err != nil {
		return o, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.EventHistory < 0 || o.EventQueue < 0 {
		return o, errors.New("app: Options.EventHistory and Options.EventQueue must not be negative")
	}
	if o.EventHistory == 0 {
		o.EventHistory = DefaultEventHistory
	}
	if o.EventQueue == 0 {
		o.EventQueue = DefaultEventQueue
	}
	return o, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

package app

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// The limits that keep a hostile or broken caller from flooding the token
// service or growing the process: a cap on service names, a budget of
// token-service calls per client, and a floor between forced refreshes.

// Defaults of the limit fields of Options left zero.
const (
	// DefaultMaxServices is far above any real fleet's service names
	// (tens to hundreds) yet bounds a flood of random names to a few MB.
	DefaultMaxServices = 10000
	// DefaultTokenRate and DefaultTokenBurst let a cold start of up to 500
	// names through at once, then 20 new tokens a second per client:
	// 1,200 a minute, more than ten times what renewing 10,000 one-hour
	// tokens takes (under 3 a second).
	DefaultTokenRate  = 20.0
	DefaultTokenBurst = 500
	// DefaultRefreshMinInterval turns a storm of forced refreshes into one
	// token-service call per service every 5 s.
	DefaultRefreshMinInterval = 5 * time.Second
)

// limitDefaults fills in the limit fields left zero, or reports the first
// that is wrong.
func (o *Options) limitDefaults() error {
	if o.MaxServices == 0 {
		o.MaxServices = DefaultMaxServices
	}
	if math.IsNaN(o.TokenRate) || math.IsInf(o.TokenRate, 0) {
		return errors.New("app: Options.TokenRate must be a finite number")
	}
	if o.TokenRate == 0 {
		o.TokenRate = DefaultTokenRate
	}
	if o.TokenBurst < 0 {
		return errors.New("app: Options.TokenBurst must not be negative")
	}
	if o.TokenBurst == 0 {
		o.TokenBurst = DefaultTokenBurst
	}
	setDefault(&o.RefreshMinInterval, DefaultRefreshMinInterval)
	return nil
}

// RefreshResult is what RefreshWithResult obtained.
type RefreshResult struct {
	Token domain.Token
	// Reused is true when Token comes from a forced refresh of the service
	// less than Options.RefreshMinInterval earlier: the token service was
	// not asked again.
	Reused bool
}

// forcedRefresh is a successful forced refresh: its token and when it
// was obtained.
type forcedRefresh struct {
	c  *cached
	at time.Time
}

// RefreshWithResult is Refresh, saying whether the token was reused from
// a forced refresh of the service less than Options.RefreshMinInterval
// ago (while that token is still the one cached here and valid) instead
// of obtained from the token service.
func (s *Cache) RefreshWithResult(ctx context.Context, service string) (RefreshResult, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return RefreshResult{}, err
	}
	if s.closed.Load() {
		return RefreshResult{}, domain.ErrClosed
	}
	s.counters.forced.Add(1)
	if c := s.recentRefresh(ctx, service); c != nil {
		s.counters.reusedRefreshes.Add(1)
		return RefreshResult{Token: c.tok, Reused: true}, nil
	}
	ch := s.forced.DoChan(service, func() (any, error) {
		return s.tracked(func() (*cached, error) { return s.refreshNow(ctx, service) })
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return RefreshResult{}, r.Err
		}
		return RefreshResult{Token: r.Val.(*cached).tok}, nil
	case <-ctx.Done():
		return RefreshResult{}, ctx.Err()
	}
}

// refreshNow runs a forced fetch and records it for the refresh floor.
// The record is in place before the shared call ends, so a Refresh
// arriving after it either joins the call or finds the record.
func (s *Cache) refreshNow(caller context.Context, service string) (*cached, error) {
	c, err := s.obtain(caller, service, forced)
	if err != nil {
		return nil, err
	}
	if e := s.entry(service); e != nil {
		e.forced.Store(&forcedRefresh{c: c, at: s.opt.Clock.Now()})
	}
	return c, nil
}

// recentRefresh is the token of service's latest forced refresh when it
// was less than RefreshMinInterval ago and its token is still the current
// one, here and in the shared store, and valid; else nil. An eviction, a
// newer token, or a store that lost or garbled it ends the reuse: a forced
// refresh is also how an operator repairs the store. A store that cannot
// be read does not: a storm of refreshes stays one call while Redis is
// down.
func (s *Cache) recentRefresh(ctx context.Context, service string) *cached {
	if s.opt.RefreshMinInterval <= 0 {
		return nil
	}
	e := s.entry(service)
	if e == nil {
		return nil
	}
	f := e.forced.Load()
	if f == nil {
		return nil
	}
	now := s.opt.Clock.Now()
	if now.Sub(f.at) >= s.opt.RefreshMinInterval || e.cur.Load() != f.c || f.c.tok.Expired(now) {
		return nil
	}
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	stored, err := s.opt.Store.Get(ctx, service)
	if errors.Is(err, domain.ErrNotFound) || (err == nil && stored.AccessToken != f.c.tok.AccessToken) {
		return nil
	}
	return f.c
}

// beyondLimit answers for a service that gets no entry because the Cache
// holds MaxServices already. A token another replica keeps fresh in the
// shared store is served without an entry (so without renewal here);
// anything else is refused without a token-service call.
func (s *Cache) beyondLimit(ctx context.Context, service string, kind fetchKind) (*cached, error) {
	if kind != forced {
		ctx, cancel := s.storeCtx(ctx)
		defer cancel()
		tok, err := s.opt.Store.Get(ctx, service)
		if err == nil && !s.policy.InRenewalWindow(tok, s.opt.Clock.Now()) {
			return &cached{tok: tok, bearer: tok.AuthorizationHeader(), cacheExpiresAt: s.policy.CacheExpiresAt(tok)}, nil
		}
	}
	if s.counters.serviceRefusals.Add(1) == 1 {
		s.log.Warn("service limit reached; new service names are refused until idle ones are forgotten",
			"limit", s.opt.MaxServices)
	}
	return nil, &domain.TooManyServicesError{Service: service, Limit: s.opt.MaxServices}
}

// forgetIfRefused drops e, a service's entry, after a fetch that was
// refused before any token-service call (a name the issuer does not know,
// a caller over the budget) when nothing is cached in it, so that refused
// names leave no entry and no timer behind.
func (s *Cache) forgetIfRefused(e *entry, err error) {
	if !errors.Is(err, domain.ErrUnknownService) && !errors.Is(err, domain.ErrRateLimited) {
		return
	}
	if e.cur.Load() != nil || e.isRenewing() {
		return
	}
	e.stopTimer()
	s.entries.forget(e)
}

// charge takes the token-service call about to be made for service from
// its client's budget. Calls callers wait for (a miss, a forced refresh)
// are refused when the budget is spent; a renewal is never refused, and
// spends what is left.
func (s *Cache) charge(service string, kind fetchKind) error {
	now := s.opt.Clock.Now()
	if kind == renewal {
		s.budget.spend(service, now)
		return nil
	}
	if wait := s.budget.take(service, now); wait > 0 {
		s.counters.rateLimited.Add(1)
		s.log.Debug("token-service budget spent; caller refused", "service", service, "retryIn", wait)
		return &domain.RateLimitedError{Service: service, RetryAfter: wait}
	}
	return nil
}

// budget holds a token bucket per token-service client.
type budget struct {
	limit domain.RateLimit
	keys  ports.ClientKeyer // nil: one bucket for all

	mu sync.Mutex
	// buckets holds the bucket of each client key; a key absent has a
	// full bucket, so full ones are dropped when the map grows.
	buckets map[string]domain.Bucket
	sweepAt int // guarded by mu: the size at which full buckets are dropped
}

// minSweep is the smallest map size at which full buckets are dropped.
const minSweep = 64

func newBudget(o Options) *budget {
	b := &budget{keys: o.ClientKeys, buckets: map[string]domain.Bucket{}, sweepAt: minSweep}
	if o.TokenRate > 0 {
		b.limit = domain.RateLimit{Rate: o.TokenRate, Burst: o.TokenBurst}
	}
	return b
}

// key is the client key of service; ok is false when no client would ask
// the token service for it, and nothing is charged.
func (b *budget) key(service string) (string, bool) {
	if b.keys == nil {
		return "", true
	}
	return b.keys.ClientKey(service)
}

// take charges a caller's call: 0 when allowed, else the wait until it
// would be.
func (b *budget) take(service string, now time.Time) time.Duration {
	if b.limit.Off() {
		return 0
	}
	k, ok := b.key(service)
	if !ok {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	next, wait := b.limit.Take(b.buckets[k], now)
	if wait == 0 {
		b.store(k, next, now)
	}
	return wait
}

// spend charges a renewal, which is never refused.
func (b *budget) spend(service string, now time.Time) {
	if b.limit.Off() {
		return
	}
	k, ok := b.key(service)
	if !ok {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.store(k, b.limit.Spend(b.buckets[k], now), now)
}

func (b *budget) store(k string, bk domain.Bucket, now time.Time) {
	b.buckets[k] = bk
	if len(b.buckets) < b.sweepAt {
		return
	}
	for key, v := range b.buckets {
		if !v.FullAt.After(now) {
			delete(b.buckets, key)
		}
	}
	b.sweepAt = max(minSweep, 2*len(b.buckets))
}

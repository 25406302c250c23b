package app

import (
	"context"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// healthTimeout bounds the store ping of Health.
const healthTimeout = time.Second

// Describe is the status of tok, service's token, now. Its Renewing is
// this process's view, which costs no store command.
func (s *Cache) Describe(service string, tok domain.Token) TokenStatus {
	renewing := false
	if e := s.entry(service); e != nil {
		renewing = e.isRenewing()
	}
	return s.statusOf(service, tok, s.opt.Clock.Now(), renewing)
}

func (s *Cache) statusOf(service string, tok domain.Token, now time.Time, renewing bool) TokenStatus {
	st := s.policy.Standing(tok, now)
	return TokenStatus{
		Service:                 service,
		Exists:                  true,
		TokenType:               tok.TokenType,
		Scope:                   tok.Scope,
		Lifetime:                tok.Lifetime(),
		IssuedAt:                tok.IssuedAt,
		ExpiresAt:               tok.ExpiresAt,
		CacheExpiresAt:          st.CacheExpiresAt,
		SecondsUntilExpiry:      st.SecondsUntilExpiry,
		SecondsUntilCacheExpiry: st.SecondsUntilCacheExpiry,
		State:                   st.State,
		Renewing:                renewing,
		At:                      now,
	}
}

// Status describes service's cached token without fetching one: Exists is
// false when nothing is cached. The shared store is the truth; when it
// cannot be read, this replica's near cache answers. Renewing covers every
// replica sharing the store.
func (s *Cache) Status(ctx context.Context, service string) (TokenStatus, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return TokenStatus{}, err
	}
	now := s.opt.Clock.Now()
	tok, err := s.opt.Store.Get(ctx, service)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenStatus{Service: service, At: now}, nil
	case err != nil:
		e := s.entry(service)
		if e == nil || e.cur.Load() == nil {
			return TokenStatus{}, err
		}
		s.log.Warn("status from the near cache; store unreadable", "service", service, "err", err)
		return s.statusOf(service, e.cur.Load().tok, now, e.isRenewing()), nil
	}
	renewing := s.renewing(ctx, []string{service})
	return s.statusOf(service, tok, now, renewing[0]), nil
}

// Statuses describes every token in the shared store.
func (s *Cache) Statuses(ctx context.Context) (Statuses, error) {
	now := s.opt.Clock.Now()
	all, err := s.opt.Store.List(ctx)
	if err != nil {
		return Statuses{}, err
	}
	names := make([]string, len(all))
	for i, en := range all {
		names[i] = en.Service
	}
	renewing := s.renewing(ctx, names)
	out := Statuses{At: now, Tokens: make([]TokenStatus, len(all))}
	for i, en := range all {
		out.Tokens[i] = s.statusOf(en.Service, en.Token, now, renewing[i])
	}
	return out, nil
}

// renewing reports, per service, whether a renewal runs here or, by its
// lock, on any replica. A locker error leaves only the local view.
func (s *Cache) renewing(ctx context.Context, services []string) []bool {
	held, err := s.opt.Locker.Held(ctx, services)
	if err != nil || len(held) != len(services) {
		held = make([]bool, len(services))
	}
	for i, name := range services {
		if e := s.entry(name); e != nil && e.isRenewing() {
			held[i] = true
		}
	}
	return held
}

// Statistics counts the tokens in the shared store by state and reports
// this process's request counters.
func (s *Cache) Statistics(ctx context.Context) (Statistics, error) {
	all, err := s.Statuses(ctx)
	if err != nil {
		return Statistics{}, err
	}
	st := Statistics{At: all.At, TotalTokens: len(all.Tokens)}
	for _, t := range all.Tokens {
		if t.Expired() {
			st.ExpiredTokens++
		} else {
			st.ActiveTokens++
		}
		if t.Renewing {
			st.RenewingTokens++
		}
	}
	st.Counters = s.Counters()
	return st, nil
}

// Counters are this process's request counters; they read no store.
func (s *Cache) Counters() Counters {
	c := &s.counters
	return Counters{
		CacheHits:            c.hits.Load(),
		CacheMisses:          c.misses.Load(),
		TokenServiceRequests: c.requests.Load(),
		TokenServiceFailures: c.failures.Load(),
		Renewals:             c.renewals.Load(),
		RenewalFailures:      c.renewalFailures.Load(),
		ForcedRefreshes:      c.forced.Load(),
		Evictions:            c.evictions.Load(),
		ServiceLimitRefusals: c.serviceRefusals.Load(),
		RateLimitRefusals:    c.rateLimited.Load(),
		ReusedRefreshes:      c.reusedRefreshes.Load(),
	}
}

// Health reports the store (pinged, when Options.Pinger is set) and the token service (the outcome of
// the latest call; it is not called just to check it, since that would
// issue a token). UP: both answer. DEGRADED: one does not, but a valid
// token is still at hand or can still be fetched. DOWN: nothing can be
// served.
func (s *Cache) Health(ctx context.Context) Health {
	now := s.opt.Clock.Now()
	h := Health{At: now, Store: ComponentHealth{Status: StatusUp}, TokenService: ComponentHealth{Status: StatusUp}}
	if s.closed.Load() {
		h.Status = StatusDown
		h.Store = ComponentHealth{Status: StatusDown, Detail: "shutting down"}
		h.TokenService = h.Store
		return h
	}
	if s.opt.Pinger != nil {
		pctx, cancel := context.WithTimeout(ctx, healthTimeout)
		err := s.opt.Pinger.Ping(pctx)
		cancel()
		if err != nil {
			h.Store = ComponentHealth{Status: StatusDown, Detail: err.Error()}
		}
	}
	if o := s.issuerSeen.Load(); o == nil {
		h.TokenService.Detail = "no token requested yet"
	} else if !o.ok {
		h.TokenService = ComponentHealth{Status: StatusDown, Detail: o.detail}
	}
	switch {
	case h.Store.Status == StatusUp && h.TokenService.Status == StatusUp:
		h.Status = StatusUp
	case h.TokenService.Status == StatusUp:
		h.Status = StatusDegraded // tokens can still be fetched, per replica
	case s.hasValidToken(now):
		h.Status = StatusDegraded // the token service is failing, but valid tokens are served
	default:
		h.Status = StatusDown
	}
	return h
}

func (s *Cache) hasValidToken(now time.Time) bool {
	for _, e := range s.snapshot() {
		if c := e.cur.Load(); c != nil && !c.tok.Expired(now) {
			return true
		}
	}
	return false
}

package app

import (
	"context"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

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
	ts := TokenStatus{
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
		BoundToCertificate:      tok.BoundToCertificate,
		At:                      now,
	}
	if e := s.entry(service); e != nil {
		if c := e.cur.Load(); c != nil && c.tok.AccessToken == tok.AccessToken {
			ts.RenewAt = c.renewAt
			ts.Failures = int(e.failures.Load())
		}
		if n := e.lastRenewed.Load(); n != 0 {
			ts.LastRenewal = time.Unix(0, n)
		}
	}
	return ts
}

// Status describes service's cached token without fetching one: Exists is
// false when nothing is cached. The shared store is the truth; when it
// cannot be read within StoreTimeout, this replica's near cache answers,
// marked partial with the store's error. Renewing covers every replica
// sharing the store.
func (s *Cache) Status(ctx context.Context, service string) (TokenStatus, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return TokenStatus{}, err
	}
	now := s.opt.Clock.Now()
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	tok, err := s.opt.Store.Get(ctx, service)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		return TokenStatus{Service: service, At: now}, nil
	case err != nil:
		s.log.Warn("status from the near cache; store unreadable", "service", service, "err", err)
		st := TokenStatus{Service: service, At: now}
		if e := s.entry(service); e != nil {
			if c := e.cur.Load(); c != nil {
				st = s.statusOf(service, c.tok, now, e.isRenewing())
			}
		}
		st.StoreError = err.Error()
		return st, nil
	}
	renewing := s.renewing(ctx, []string{service})
	return s.statusOf(service, tok, now, renewing[0]), nil
}

// Statuses describes every token in the shared store; when the store
// cannot be read within StoreTimeout, every token in this replica's near
// cache, marked partial with the store's error.
func (s *Cache) Statuses(ctx context.Context) (Statuses, error) {
	now := s.opt.Clock.Now()
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	all, err := s.opt.Store.List(ctx)
	if err != nil {
		s.log.Warn("statuses from the near cache; store unreadable", "err", err)
		return s.nearStatuses(now, err), nil
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

// nearStatuses describes the tokens of this replica's near cache, for
// when the store failed with storeErr.
func (s *Cache) nearStatuses(now time.Time, storeErr error) Statuses {
	out := Statuses{At: now, StoreError: storeErr.Error()}
	for _, e := range s.snapshot() {
		if c := e.cur.Load(); c != nil {
			out.Tokens = append(out.Tokens, s.statusOf(e.service, c.tok, now, e.isRenewing()))
		}
	}
	return out
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
// this process's request counters. When the store cannot be read, the
// counts are this replica's near cache's, marked partial as by Statuses.
func (s *Cache) Statistics(ctx context.Context) (Statistics, error) {
	all, err := s.Statuses(ctx)
	if err != nil {
		return Statistics{}, err
	}
	st := Statistics{At: all.At, TotalTokens: len(all.Tokens), StoreError: all.StoreError}
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
		StoreWriteFailures:   c.storeWriteFailures.Load(),
	}
}

// Health reports the store and the token service. The store: DOWN when
// Options.Pinger's ping fails (within StoreTimeout), DEGRADED while its
// latest write failed (Health tries that write again first), else UP. The token service: the outcome of the
// latest of the real calls and the probes (Options.Prober), whichever came
// last, then made worse by Options.IssuerHealth. Overall, UP: both UP.
// DEGRADED: one is not, but a valid token is still at hand or can still be
// fetched. DOWN: nothing can be served.
func (s *Cache) Health(ctx context.Context) Health {
	now := s.opt.Clock.Now()
	h := Health{At: now, Store: ComponentHealth{Status: StatusUp}, TokenService: ComponentHealth{Status: StatusUp}}
	if s.closed.Load() {
		h.Status = StatusDown
		h.Store = ComponentHealth{Status: StatusDown, Detail: "shutting down"}
		h.TokenService = h.Store
		return h
	}
	h.Store = s.storeHealth(ctx)
	h.TokenService = s.tokenServiceHealth()
	switch {
	case h.Store.Status == StatusUp && h.TokenService.Status == StatusUp:
		h.Status = StatusUp
	case h.TokenService.Status != StatusDown:
		h.Status = StatusDegraded // tokens can still be fetched, per replica
	case s.hasValidToken(now):
		h.Status = StatusDegraded // the token service is failing, but valid tokens are served
	default:
		h.Status = StatusDown
	}
	return h
}

func (s *Cache) storeHealth(ctx context.Context) ComponentHealth {
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if s.opt.Pinger != nil {
		if err := s.opt.Pinger.Ping(ctx); err != nil {
			return ComponentHealth{Status: StatusDown, Detail: err.Error()}
		}
	}
	if w := s.writeFailed.Load(); w != nil {
		s.writeAgain(ctx, w)
	}
	if w := s.writeFailed.Load(); w != nil {
		// It answers, but refuses tokens (full, read-only): each replica
		// keeps its own, and the fleet calls the token service more.
		return ComponentHealth{Status: StatusDegraded, Detail: "writes failing since " +
			w.at.UTC().Format(time.RFC3339) + ": " + w.detail}
	}
	if f := s.feedFailed.Load(); f != nil {
		// Tokens are served, but this replica does not hear the others'
		// renewals, refreshes and evictions until the feed returns.
		return ComponentHealth{Status: StatusDegraded, Detail: "change feed unavailable: " + *f}
	}
	return ComponentHealth{Status: StatusUp}
}

func (s *Cache) tokenServiceHealth() ComponentHealth {
	ts := ComponentHealth{Status: StatusUp}
	o := s.issuerSeen.Load()
	if p := s.probeSeen.Load(); p != nil && (o == nil || p.at.After(o.at)) {
		o = p
	}
	switch {
	case o == nil:
		ts.Detail = "no token requested yet"
	case !o.ok:
		ts = ComponentHealth{Status: StatusDown, Detail: o.detail}
	}
	if s.opt.IssuerHealth == nil {
		return ts
	}
	err := s.opt.IssuerHealth()
	switch {
	case err == nil:
	case errors.Is(err, ErrIssuerDown):
		ts = ComponentHealth{Status: StatusDown, Detail: joinDetail(ts, err)}
	case ts.Status == StatusUp:
		ts = ComponentHealth{Status: StatusDegraded, Detail: err.Error()}
	default:
		ts.Detail = joinDetail(ts, err)
	}
	return ts
}

// joinDetail adds err to c's detail, if any.
func joinDetail(c ComponentHealth, err error) string {
	if c.Status == StatusUp || c.Detail == "" {
		return err.Error()
	}
	return c.Detail + "; " + err.Error()
}

func (s *Cache) hasValidToken(now time.Time) bool {
	for _, e := range s.snapshot() {
		if c := e.cur.Load(); c != nil && !c.tok.Expired(now) {
			return true
		}
	}
	return false
}

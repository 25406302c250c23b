package app

import (
	"context"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// obtain is the one place a token is fetched, for a miss, a renewal (force
// false) or a forced refresh (force true). It returns the token to serve:
// for a miss or a renewal that fails while a valid token is known, that
// token, with the failure recorded and a retry scheduled.
func (s *Cache) obtain(service string, force bool) (*cached, error) {
	if s.closed.Load() {
		return nil, domain.ErrClosed
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.LockTTL+s.opt.FetchTimeout)
	defer cancel()
	e := s.entryOrCreate(service)
	e.renewing.Add(1)
	defer e.renewing.Add(-1)

	start := s.opt.Clock.Now()
	old := e.cur.Load()
	// The near cache may have been updated by a feed notification or by a
	// fetch that finished just before this one started.
	if !force && old != nil && !s.policy.RenewalDue(old.tok, start) {
		return old, nil
	}
	// Wanted: a token that needs no renewal now; for a forced refresh, one
	// issued since the request and different from the one being replaced.
	acceptable := func(tok domain.Token, now time.Time) bool {
		if force {
			return !tok.IssuedAt.Before(start) && (old == nil || tok.AccessToken != old.tok.AccessToken) && !tok.Expired(now)
		}
		return !s.policy.RenewalDue(tok, now)
	}
	// What can be served if the token service fails: the best still-valid
	// token known here or in the store.
	fallback := old
	if tok, err := s.opt.Store.Get(ctx, service); err == nil {
		if acceptable(tok, start) {
			return s.install(e, tok), nil
		}
		if !tok.Expired(start) && (fallback == nil || tok.ExpiresAt.After(fallback.tok.ExpiresAt)) {
			fallback = s.install(e, tok)
		}
	} else if !errors.Is(err, domain.ErrNotFound) {
		s.log.Warn("store read failed; fetching without it", "service", service, "err", err)
	}

	poll := defaultPollInterval
	for {
		unlock, err := s.opt.Locker.TryLock(ctx, service, s.opt.LockTTL)
		switch {
		case err == nil:
			s.log.Debug("renewal lock acquired", "service", service, "forced", force)
			c, err := s.issueLocked(ctx, e, service, force, acceptable, unlock)
			if err != nil {
				return s.failed(e, service, force, fallback, err)
			}
			return c, nil
		case errors.Is(err, domain.ErrLockHeld):
			// Another replica (or a forced refresh here) is renewing: wait
			// for its token rather than calling the token service too.
		case ctx.Err() != nil:
			return s.failed(e, service, force, fallback, ctx.Err())
		default:
			// The locker is unreachable (shared store down): the in-process
			// single flight still limits this replica to one call.
			s.log.Warn("renewal lock unavailable; renewing without it", "service", service, "err", err)
			c, err := s.issueLocked(ctx, e, service, force, acceptable, nil)
			if err != nil {
				return s.failed(e, service, force, fallback, err)
			}
			return c, nil
		}
		if err := e.waitChange(ctx, poll); err != nil {
			return s.failed(e, service, force, fallback, err)
		}
		poll = min(poll*2, maxPollInterval)
		now := s.opt.Clock.Now()
		if c := e.cur.Load(); c != nil && c != old && acceptable(c.tok, now) {
			return c, nil
		}
		if tok, err := s.opt.Store.Get(ctx, service); err == nil && acceptable(tok, now) {
			return s.install(e, tok), nil
		}
	}
}

// issueLocked runs with the renewal lock held (unlock nil: no lock could be
// had). It checks the store once more, since the previous holder may have
// just renewed, then calls the token service and shares the result.
func (s *Cache) issueLocked(ctx context.Context, e *entry, service string, force bool, acceptable func(domain.Token, time.Time) bool, unlock ports.Unlock) (*cached, error) {
	if unlock != nil {
		defer func() {
			// Released even when ctx has ended, so the next renewer need not
			// wait for the lock to expire.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			if err := unlock(rctx); err != nil {
				s.log.Warn("renewal lock release failed; it will expire", "service", service, "err", err)
			}
		}()
		if tok, err := s.opt.Store.Get(ctx, service); err == nil && acceptable(tok, s.opt.Clock.Now()) {
			return s.install(e, tok), nil
		}
	}
	renewal := !force && e.cur.Load() != nil
	tok, err := s.issue(ctx, service)
	if err != nil {
		if renewal {
			s.counters.renewalFailures.Add(1)
		}
		return nil, err
	}
	if renewal {
		s.counters.renewals.Add(1)
	}
	e.failures.Store(0)
	if err := s.opt.Store.Put(ctx, service, tok); err != nil {
		s.log.Warn("store write failed; token kept in this replica only", "service", service, "err", err)
	}
	c := s.install(e, tok)
	s.publish(service)
	return c, nil
}

// issue makes one token-service call and records its outcome.
func (s *Cache) issue(ctx context.Context, service string) (domain.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opt.FetchTimeout)
	defer cancel()
	tok, err := s.opt.Issuer.Issue(ctx, service)
	now := s.opt.Clock.Now()
	if !errors.Is(err, domain.ErrUnknownService) {
		s.counters.requests.Add(1)
	}
	if err == nil && tok.IsZero() {
		err = &domain.TokenServiceError{Kind: domain.BadResponse, Service: service, Err: errors.New("issuer returned an empty token")}
	}
	if errors.Is(err, domain.ErrUnknownService) {
		// The configuration refuses the name; the token service was not
		// asked and is not to blame.
		return domain.Token{}, err
	}
	if err != nil {
		s.counters.failures.Add(1)
		s.issuerSeen.Store(&issuerOutcome{ok: false, detail: err.Error(), at: now})
		s.log.Warn("token service call failed", "service", service, "err", err)
		return domain.Token{}, err
	}
	s.issuerSeen.Store(&issuerOutcome{ok: true, at: now})
	s.log.Debug("token obtained", "service", service, "expiresAt", tok.ExpiresAt)
	return tok, nil
}

// failed decides what a failed fetch returns. A forced refresh reports the
// failure. A miss or renewal falls back to a still-valid token when one is
// known, and retries in the background with backoff while that token lives;
// with nothing valid to serve it reports the failure, which callers then
// share for one backoff step (at least any Retry-After) before the next
// caller asks the token service again.
func (s *Cache) failed(e *entry, service string, force bool, fallback *cached, err error) (*cached, error) {
	if s.closed.Load() {
		return nil, domain.ErrClosed
	}
	if force {
		return nil, err
	}
	if fallback == nil || fallback.tok.Expired(s.opt.Clock.Now()) {
		var tse *domain.TokenServiceError
		if errors.As(err, &tse) {
			e.failure.Store(&recentFailure{err: err, until: s.opt.Clock.Now().Add(s.backoff(1, err))})
		}
		return nil, err
	}
	n := e.failures.Add(1)
	delay := s.backoff(n, err)
	e.schedule(delay, func() { s.renewInBackground(service) })
	s.log.Warn("renewal failing; serving the still-valid token", "service", service,
		"expiresAt", fallback.tok.ExpiresAt, "failures", n, "retryIn", delay)
	return fallback, nil
}

// backoff is the delay before retry number n: exponential from MinBackoff,
// capped at MaxBackoff, with jitter over its upper half, and never shorter
// than a Retry-After the token service asked for.
func (s *Cache) backoff(n int32, err error) time.Duration {
	d := s.opt.MinBackoff
	for i := int32(1); i < n && d < s.opt.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.opt.MaxBackoff)
	d = d/2 + time.Duration(float64(d/2)*s.opt.Jitter())
	var tse *domain.TokenServiceError
	if errors.As(err, &tse) && tse.RetryAfter > d {
		d = tse.RetryAfter
	}
	return d
}

// install makes tok the near cache's token for e and schedules its renewal.
func (s *Cache) install(e *entry, tok domain.Token) *cached {
	c := &cached{
		tok:            tok,
		bearer:         tok.AuthorizationHeader(),
		cacheExpiresAt: s.policy.CacheExpiresAt(tok),
		renewAt:        s.policy.RenewAt(tok, s.opt.Jitter()),
	}
	e.cur.Store(c)
	e.failure.Store(nil)
	e.notifyChanged()
	if e.failures.Load() == 0 || !s.policy.RenewalDue(tok, s.opt.Clock.Now()) {
		e.failures.Store(0)
		e.schedule(max(c.renewAt.Sub(s.opt.Clock.Now()), 0), func() { s.renewInBackground(e.service) })
	}
	return c
}

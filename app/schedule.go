package app

import (
	"context"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// renewInBackground is run by a token's timer: it renews the token unless
// nobody asked for it within IdleTimeout.
func (s *Cache) renewInBackground(service string) {
	if s.closed.Load() {
		return
	}
	e := s.entry(service)
	if e == nil {
		return
	}
	now := s.opt.Clock.Now()
	if s.idle(e, now) {
		s.log.Debug("token idle; not renewing it", "service", service)
		return
	}
	if c := e.cur.Load(); c != nil && !s.policy.InRenewalWindow(c.tok, now) && e.failures.Load() == 0 {
		return // already replaced, by a feed notification for instance
	}
	if !s.track() {
		return
	}
	defer s.wg.Done()
	_, _, _ = s.fetches.Do(service, func() (any, error) { return s.obtain(s.ctx, service, renewal) })
}

func (s *Cache) idle(e *entry, now time.Time) bool {
	return s.opt.IdleTimeout > 0 && now.Sub(time.Unix(0, e.lastUsed.Load())) > s.opt.IdleTimeout
}

// timerSlack is how late a renewal timer may be before the safety net
// steps in.
const timerSlack = time.Second

// checkRenewals is the safety net: any token whose renewal timer should
// have fired but did not (a suspended process, a clock jump) is renewed now.
// It is also where the near cache catches up after the feed missed changes.
func (s *Cache) checkRenewals() {
	s.entries.publish() // services first asked for since the last batch get lock-free hits
	s.resync()
	now := s.opt.Clock.Now()
	for _, e := range s.snapshot() {
		c := e.cur.Load()
		if c == nil || e.isRenewing() || e.failures.Load() > 0 || c.tok.Expired(now) {
			continue
		}
		if now.After(c.renewAt.Add(timerSlack)) && s.policy.InRenewalWindow(c.tok, now) && !s.idle(e, now) {
			e.schedule(0, func() { s.renewInBackground(e.service) })
		}
	}
}

// cleanup drops expired tokens from the near cache, forgets idle services
// with nothing cached, and has the store prune what expired there. It reads
// no token from the store: Redis expires token values by itself, and
// Pruner.Prune works from the index's scores alone.
func (s *Cache) cleanup() {
	now := s.opt.Clock.Now()
	var forget []*entry
	for _, e := range s.snapshot() {
		if c := e.cur.Load(); c != nil && c.tok.Expired(now) {
			e.cur.CompareAndSwap(c, nil)
		}
		if e.cur.Load() == nil && !e.isRenewing() && s.idle(e, now) {
			forget = append(forget, e)
		}
	}
	if len(forget) > 0 {
		s.entries.remove(forget)
		for _, e := range forget {
			e.stopTimer()
		}
	}
	if s.opt.Pruner == nil {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.FetchTimeout)
	defer cancel()
	if n, err := s.opt.Pruner.Prune(ctx); err != nil {
		s.log.Warn("cleanup could not prune the store", "err", err)
	} else if n > 0 {
		s.log.Debug("cleanup pruned expired entries from the store", "entries", n)
	}
}

// periodJitter is the most a period of the background work strays from its
// nominal length, either way, as a share of it.
const periodJitter = 0.1

// every runs fn about each period until Close: first after a random share
// of the period, then every period ± periodJitter. Replicas started
// together (a fleet rolled out at once) thus do not act in lockstep, and do
// not drift back into it.
func (s *Cache) every(period time.Duration, fn func()) {
	t := time.NewTimer(time.Duration(float64(period) * s.opt.Jitter()))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			fn()
			t.Reset(jitteredPeriod(period, s.opt.Jitter()))
		}
	}
}

// jitteredPeriod is period stretched by up to ± periodJitter: j in [0, 1)
// maps onto [-periodJitter, +periodJitter).
func jitteredPeriod(period time.Duration, j float64) time.Duration {
	return period + time.Duration(float64(period)*periodJitter*(2*j-1))
}

// noteLife says once, at the first token that shows it, that the policy's
// MaxLife (CACHE_TTL) is shorter than the tokens the token service hands
// out: each is then renewed when its cached life ends, earlier than its
// expiry alone would need.
func (s *Cache) noteLife(tok domain.Token) {
	if !s.policy.LifeCapped(tok) || s.lifeNoted.Swap(true) {
		return
	}
	s.log.Info("tokens outlive the cache's maximum life (CACHE_TTL): each is renewed when its cached life ends, before its expiry needs it",
		"maxLife", s.policy.MaxLife, "tokenLifetime", tok.Lifetime(), "renewedWithin", s.policy.RenewBy(tok).Sub(tok.IssuedAt))
}

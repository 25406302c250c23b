package app

import (
	"context"
	"time"
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
func (s *Cache) checkRenewals() {
	s.entries.publish() // services first asked for since the last batch get lock-free hits
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

// cleanup drops expired tokens from the near cache and the store, and
// forgets idle services with nothing cached.
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
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.FetchTimeout)
	defer cancel()
	all, err := s.opt.Store.List(ctx)
	if err != nil {
		s.log.Warn("cleanup could not list the store", "err", err)
		return
	}
	for _, en := range all {
		if en.Token.Expired(now) {
			if _, err := s.opt.Store.Delete(ctx, en.Service); err != nil {
				s.log.Warn("cleanup could not delete an expired token", "service", en.Service, "err", err)
			}
		}
	}
}

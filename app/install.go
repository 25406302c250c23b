package app

// How a token becomes the near cache's: installed with its renewal timer,
// by the replica that fetched it or, as a back-up, by the others.

import (
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// install makes tok, which another replica fetched (it comes from the
// store or a notification), the near cache's token for e, and schedules its
// renewal as a back-up: after the fetcher's, so that one replica renews
// each token and the others take the result from its notification, at no
// Redis cost (domain.RenewalPolicy.BackupRenewAt).
func (s *Cache) install(e *entry, tok domain.Token) *cached {
	return s.installAt(e, tok, s.policy.BackupRenewAt(tok, s.opt.Jitter()))
}

// installAt makes tok the near cache's token for e and schedules its
// renewal at renewAt.
func (s *Cache) installAt(e *entry, tok domain.Token, renewAt time.Time) *cached {
	c := &cached{
		tok:            tok,
		bearer:         tok.AuthorizationHeader(),
		cacheExpiresAt: s.policy.CacheExpiresAt(tok),
		servableUntil:  s.policy.ServableUntil(tok),
		renewAt:        renewAt,
	}
	if prev := e.cur.Swap(c); prev != nil && prev.tok.AccessToken != tok.AccessToken {
		e.lastRenewed.Store(s.opt.Clock.Now().UnixNano())
	}
	e.failure.Store(nil)
	e.notifyChanged()
	if e.failures.Load() == 0 || !s.policy.InRenewalWindow(tok, s.opt.Clock.Now()) {
		e.failures.Store(0)
		e.schedule(max(c.renewAt.Sub(s.opt.Clock.Now()), 0), func() { s.renewInBackground(e.service) })
	}
	return c
}

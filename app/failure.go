package app

// What a fetch that got no token returns: the still-valid token it can
// fall back on, or the failure, which callers with nothing valid then share
// for a growing backoff step rather than each asking the token service
// again.

import (
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// failed decides what a failed fetch returns. A forced refresh reports the
// failure. A miss or renewal falls back to a still-valid token when one is
// known, and retries in the background with backoff while that token lives;
// with nothing valid to serve it reports the failure, which callers then
// share for one backoff step (at least any Retry-After) before the next
// caller asks the token service again. The step grows with each failure in
// a row, up to MaxBackoff, and starts over after a success.
func (f *fetch) failed(err error) (*cached, error) {
	s := f.s
	if s.closed.Load() {
		return nil, domain.ErrClosed
	}
	if f.kind == forced {
		s.emitFailure(EventRefreshFailed, f.service, err, 0)
		return nil, err
	}
	if f.fallback == nil || !s.policy.Servable(f.fallback.tok, s.opt.Clock.Now()) {
		var tse *domain.TokenServiceError
		if errors.As(err, &tse) {
			// Each failure in a row widens the window: a token service in
			// trouble is asked less and less, and at least once per
			// largest step, so recovery shows within it.
			n := int32(1)
			if prev := f.e.failure.Load(); prev != nil {
				n = prev.n + 1
			}
			f.e.failure.Store(&recentFailure{err: err, n: n, until: s.opt.Clock.Now().Add(s.retryDelay(n, err))})
		}
		s.emitFailure(EventRefused, f.service, err, 0)
		return nil, err
	}
	n := f.e.failures.Add(1)
	s.emitFailure(EventRenewalFailed, f.service, err, n)
	delay := s.retryDelay(n, err)
	f.e.schedule(delay, func() { s.renewInBackground(f.service) })
	s.log.Warn("renewal failing; serving the still-valid token", "service", f.service,
		"expiresAt", f.fallback.tok.ExpiresAt, "failures", n, "retryIn", delay)
	return f.fallback, nil
}

// retryDelay is the wait before retry n of a failing fetch: the
// configured backoff, and at least the Retry-After the token service sent.
func (s *Cache) retryDelay(n int32, err error) time.Duration {
	var retryAfter time.Duration
	var tse *domain.TokenServiceError
	if errors.As(err, &tse) {
		retryAfter = tse.RetryAfter
	}
	return s.backoff.Delay(int(n), s.opt.Jitter(), retryAfter)
}

package app

import (
	"context"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// The fetch protocol. Every token this process gets comes from obtain, for
// a miss (a caller waits), a renewal (the cached token is in its renewal
// window and is served meanwhile) or a forced refresh (Refresh). One fetch:
//
//  1. returns the near cache's token if it became acceptable meanwhile;
//  2. reads the shared store: another replica may have fetched already;
//  3. takes the service's renewal lock, so that one renewer in the fleet
//     calls the token service; a replica finding the lock held waits for the
//     holder's token, which the holder's change notification carries (the
//     store is read only when no notification came for a while);
//  4. holding the lock, reads the store once more (the previous holder may
//     just have finished), then calls the token service, writes the token
//     to the store, installs it here and announces it to the other replicas;
//  5. on failure, serves the best still-valid token it knows and retries in
//     the background with backoff, or shares the failure with callers for
//     one backoff step when nothing valid is left.
//
// Each store command is bounded by StoreTimeout. The first that fails (a
// hung or unreachable store) ends the fetch's use of the store: it calls
// the token service at once, the in-process single flight being its only
// coordination, and writes and announces the token in the background, so
// that a caller waits at most StoreTimeout for the store in all.

// fetchKind is what a fetch is for.
type fetchKind int8

const (
	// miss: nothing usable is cached; callers wait for the token.
	miss fetchKind = iota
	// renewal: the cached token is in its renewal window; it is served
	// until replaced, and while the token service fails.
	renewal
	// forced: a Refresh; only a token issued since the request, different
	// from the one it replaces, will do.
	forced
)

// succeeded is the event of a fetch of this kind that got a token from
// the token service.
func (k fetchKind) succeeded() EventType {
	switch k {
	case renewal:
		return EventRenewed
	case forced:
		return EventRefreshed
	default:
		return EventObtained
	}
}

// fetch is the state of one run of the protocol for one service.
type fetch struct {
	s       *Cache
	ctx     context.Context // bounds the whole fetch: LockTTL + FetchTimeout
	e       *entry
	service string
	kind    fetchKind
	start   time.Time // when the fetch began
	// old is the near cache's token when the fetch began, or nil; a
	// forced refresh must replace it, a waiter must see something newer.
	old *cached
	// fallback is the best still-valid token known, served if the token
	// service fails (not for forced); nil when there is none.
	fallback *cached
	// storeErr is the first store failure of the fetch, nil while the
	// store answers; once set, the fetch sends the store nothing more on
	// its caller's path.
	storeErr error
}

// obtain fetches service's token as kind asks and returns the token to
// serve: for a miss or a renewal that fails while a valid token is known,
// that token, with the failure recorded and a retry scheduled. Whether a
// fetch that is not forced is a miss or a renewal depends on what is
// cached when it starts, not on who asked: misses and renewals share one
// fetch.
func (s *Cache) obtain(caller context.Context, service string, kind fetchKind) (_ *cached, err error) {
	if s.closed.Load() {
		return nil, domain.ErrClosed
	}
	ctx, cancel := s.fetchContext(caller)
	defer cancel()
	e := s.entryOrCreate(service)
	if e == nil {
		return s.beyondLimit(ctx, service, kind)
	}
	e.renewing.Add(1)
	defer func() {
		e.renewing.Add(-1)
		if err != nil {
			s.forgetIfRefused(e, err)
		}
	}()

	f := &fetch{s: s, ctx: ctx, e: e, service: service, kind: kind, start: s.opt.Clock.Now(), old: e.cur.Load()}
	if f.kind != forced {
		f.kind = miss
		if f.old != nil {
			f.kind = renewal
		}
	}
	f.fallback = f.old
	return f.run()
}

// acceptable reports whether tok is what the fetch wants at now: a token
// that needs no renewal; for a forced refresh, a valid one issued since the
// request and different from the one being replaced.
func (f *fetch) acceptable(tok domain.Token, now time.Time) bool {
	if f.kind == forced {
		return !tok.IssuedAt.Before(f.start) && (f.old == nil || tok.AccessToken != f.old.tok.AccessToken) && !tok.Expired(now)
	}
	return !f.s.policy.InRenewalWindow(tok, now)
}

func (f *fetch) run() (*cached, error) {
	s := f.s
	// The near cache may have been updated by a feed notification or by a
	// fetch that finished just before this one started.
	if f.kind != forced && f.old != nil && f.acceptable(f.old.tok, f.start) {
		return f.old, nil
	}
	if tok, ok := f.read(); ok {
		if f.acceptable(tok, f.start) {
			if c := f.take(tok); c != nil {
				return c, nil
			}
		}
		f.offerFallback(tok)
	}

	poll, maxPoll := defaultPollInterval, maxPollInterval
	if s.opt.Feed != nil {
		// The holder's notification carries its token; the store is only
		// the fallback for a notification lost.
		poll = feedPollInterval
	}
	for {
		if f.storeErr != nil {
			// The store failed: this replica fetches on its own.
			return f.result(f.issue())
		}
		// Taken before the lock, so that a notification arriving between
		// a failed TryLock and the wait still wakes it.
		changed := f.e.changes()
		unlock, err := f.tryLock()
		switch {
		case err == nil:
			s.log.Debug("renewal lock acquired", "service", f.service, "forced", f.kind == forced)
			return f.result(f.underLock(unlock))
		case errors.Is(err, domain.ErrLockHeld):
			// Another replica (or a forced refresh here) is renewing: wait
			// for its token rather than calling the token service too.
		case f.ctx.Err() != nil:
			return f.failed(f.ctx.Err())
		default:
			// The locker is unreachable (shared store down): the in-process
			// single flight still limits this replica to one call.
			f.storeErr = err
			s.log.Warn("renewal lock unavailable; renewing without it", "service", f.service, "err", err)
			return f.result(f.issue())
		}
		woke, err := waitChange(f.ctx, changed, poll)
		if err != nil {
			return f.failed(err)
		}
		now := s.opt.Clock.Now()
		if c := f.e.cur.Load(); c != nil && c != f.old && f.acceptable(c.tok, now) {
			return c, nil // the holder's token, from its notification
		}
		if woke {
			continue // some other change: try the lock again
		}
		poll = min(poll*2, maxPoll)
		if tok, ok := f.read(); ok && f.acceptable(tok, now) {
			if c := f.take(tok); c != nil {
				return c, nil
			}
		}
	}
}

// read returns the store's token for the service, with ok false when there
// is none or the store failed, which it records in storeErr. It is bounded
// by StoreTimeout and sends nothing once the store has failed.
func (f *fetch) read() (tok domain.Token, ok bool) {
	if f.storeErr != nil {
		return domain.Token{}, false
	}
	ctx, cancel := f.s.storeCtx(f.ctx)
	defer cancel()
	tok, err := f.s.opt.Store.Get(ctx, f.service)
	switch {
	case err == nil:
		return tok, true
	case !errors.Is(err, domain.ErrNotFound):
		f.storeErr = err
		f.s.log.Warn("store read failed; fetching without it", "service", f.service, "err", err)
	}
	return domain.Token{}, false
}

// tryLock takes the service's renewal lock, bounded by StoreTimeout.
func (f *fetch) tryLock() (ports.Unlock, error) {
	ctx, cancel := f.s.storeCtx(f.ctx)
	defer cancel()
	return f.s.opt.Locker.TryLock(ctx, f.service, f.s.opt.LockTTL)
}

// take installs tok, a token the store holds, unless the near cache holds
// a token issued later: a store can give back an older token (a write of
// this replica that failed, or a value written back by someone with access
// to the store), and a replica never goes back in time. It returns nil for
// a token it refused.
func (f *fetch) take(tok domain.Token) *cached {
	if !f.e.newer(tok) {
		f.s.log.Warn("store holds a token issued before the one cached here; ignoring it", "service", f.service)
		return nil
	}
	return f.s.install(f.e, tok)
}

// offerFallback makes tok, a token from the store that is not acceptable,
// the fallback when it is still valid and outlives the current one.
func (f *fetch) offerFallback(tok domain.Token) {
	if tok.Expired(f.start) || (f.fallback != nil && !tok.ExpiresAt.After(f.fallback.tok.ExpiresAt)) || !f.e.newer(tok) {
		return
	}
	f.fallback = f.s.install(f.e, tok)
	if f.kind == miss {
		f.kind = renewal // a token is cached now
	}
}

// underLock runs with the service's renewal lock held and releases it. It
// checks the store once more, since the previous holder may have just
// renewed, before calling the token service.
func (f *fetch) underLock(unlock ports.Unlock) (*cached, error) {
	defer func() {
		// Released even when the fetch's ctx has ended, so the next renewer
		// need not wait for the lock to expire; in the background once the
		// store has failed, so the caller does not wait for it.
		f.afterStore(func(ctx context.Context) {
			if err := unlock(ctx); err != nil {
				f.s.log.Warn("renewal lock release failed; it will expire", "service", f.service, "err", err)
			}
		})
	}()
	if tok, ok := f.read(); ok && f.acceptable(tok, f.s.opt.Clock.Now()) {
		if c := f.take(tok); c != nil {
			return c, nil
		}
	}
	return f.issue()
}

// afterStore runs op, store work that the fetch's result does not depend
// on, with a context bounded by StoreTimeout that the fetch's end does not
// cancel: now while the store answers, in the background once it has
// failed.
func (f *fetch) afterStore(op func(ctx context.Context)) {
	run := func() {
		ctx, cancel := f.s.storeCtx(context.WithoutCancel(f.ctx))
		defer cancel()
		op(ctx)
	}
	if f.storeErr == nil || !f.s.goBackground(run) {
		run()
	}
}

// issue calls the token service and shares its token: in the store, in the
// near cache, and with the other replicas through the feed.
func (f *fetch) issue() (*cached, error) {
	s := f.s
	if err := s.charge(f.service, f.kind); err != nil {
		return nil, err
	}
	tok, err := s.issue(f.ctx, f.service)
	if err != nil {
		if f.kind == renewal {
			s.counters.renewalFailures.Add(1)
		}
		return nil, err
	}
	if f.kind == renewal {
		s.counters.renewals.Add(1)
	}
	s.emit(Event{Type: f.kind.succeeded(), Service: f.service, ExpiresAt: tok.ExpiresAt})
	f.e.failures.Store(0)
	// The fetcher renews the token it fetched; replicas that take it from
	// the store or its notification stand by (see install).
	c := s.installAt(f.e, tok, s.policy.RenewAt(tok, s.opt.Jitter()))
	s.noteLife(tok)
	// Then the store and the other replicas learn of it, before the lock
	// is released, so that a replica waiting for it finds it. The
	// notification carries the token, so it is sent even when the store
	// refused it: the others take it from the notification, never the
	// store's older token or its absence.
	f.afterStore(func(ctx context.Context) {
		s.write(ctx, f.service, tok)
		s.publishCtx(ctx, ports.Change{Service: f.service, Token: &tok})
	})
	return c, nil
}

func (f *fetch) result(c *cached, err error) (*cached, error) {
	if err != nil {
		return f.failed(err)
	}
	return c, nil
}

// fetchContext is the context of one fetch: bounded by LockTTL +
// FetchTimeout and ended by Close, never by the caller that started it (a
// fetch is shared, and outlives a caller who leaves), but carrying that
// caller's values, such as its trace span, to the ports. A background
// renewal passes the cache's own context, which carries none.
func (s *Cache) fetchContext(caller context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(caller), s.opt.LockTTL+s.opt.FetchTimeout)
	stop := context.AfterFunc(s.ctx, cancel)
	return ctx, func() { stop(); cancel() }
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

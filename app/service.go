package app

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// Cache is the token cache: it hands out tokens per service name, fetches
// them from the token service on a miss (one call however many callers miss
// together), renews each one in the background ahead of its renewal buffer,
// and keeps one renewal per token across every replica sharing its store.
//
// The in-process entries in front of the store are a near cache: a hit costs
// one map lookup under a read lock and no store command, allocates nothing,
// and never waits on a renewal.
//
// A Cache is safe for concurrent use. Close stops its background work.
type Cache struct {
	opt    Options
	log    *slog.Logger
	policy domain.RenewalPolicy

	// entries maps a service name to its entry; a hit reads it without a
	// lock. An entry is never replaced while present.
	entries *entryMap

	fetches singleflight.Group // key: service name (misses and renewals share a fetch)
	forced  singleflight.Group // key: service name (forced refreshes coalesce among themselves)

	ctx    context.Context // cancelled by Close; parent of all background work
	cancel context.CancelFunc
	closed atomic.Bool
	bgMu   sync.Mutex     // orders wg.Add after a closed check against Close
	wg     sync.WaitGroup // background work, waited for by Close

	counters   counters
	issuerSeen atomic.Pointer[issuerOutcome] // nil until the first token-service call
}

type counters struct {
	hits, misses, requests, failures, renewals, renewalFailures, forced, evictions atomic.Uint64
}

type issuerOutcome struct {
	ok     bool
	detail string // error text without secrets (TokenServiceError never holds any)
	at     time.Time
}

// entry is one service's slot in the near cache.
type entry struct {
	service string
	cur     atomic.Pointer[cached] // nil when nothing is cached here
	// lastUsed is the unix-nano time of the latest Token call; it is
	// refreshed at most once a second so hits do not all write it.
	lastUsed atomic.Int64
	renewing atomic.Int32 // fetches for this service running in this process
	failures atomic.Int32 // consecutive failed renewals; >0 means renewal is failing
	// failure is the token service's latest refusal when nothing valid
	// could be served; until its end, callers share it instead of each
	// asking the token service again. nil after any success.
	failure atomic.Pointer[recentFailure]

	mu      sync.Mutex
	timer   *time.Timer   // guarded by mu: the next renewal or retry
	changed chan struct{} // guarded by mu: closed and replaced when the service's token changes
}

// recentFailure is a failed fetch shared with callers until a deadline.
type recentFailure struct {
	err   error
	until time.Time
}

// cached is an immutable token with what the hot path needs precomputed.
type cached struct {
	tok            domain.Token
	bearer         string
	cacheExpiresAt time.Time
	renewAt        time.Time // when its renewal timer was set to fire
}

// New builds a Cache and starts its background work: per-token renewal
// timers, the safety-net renewal check, the cleanup task and the change
// feed subscription. It does not contact the token service.
func New(opts Options) (*Cache, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Cache{
		opt:    o,
		log:    o.Logger.With("component", "tokencache"),
		policy: *o.Policy,
		ctx:    ctx,
		cancel: cancel,
	}
	s.entries = newEntryMap()
	s.goBackground(func() { s.every(o.CheckInterval, s.checkRenewals) })
	s.goBackground(func() { s.every(o.CleanupInterval, s.cleanup) })
	if o.Feed != nil {
		s.goBackground(s.subscribe)
	}
	return s, nil
}

// Close stops background renewal and waits for running work to end. Tokens
// stay in a shared store for other replicas. Calls after Close fail with
// domain.ErrClosed.
func (s *Cache) Close() error {
	s.bgMu.Lock()
	already := s.closed.Swap(true)
	s.bgMu.Unlock()
	if already {
		return nil
	}
	s.cancel()
	for _, e := range s.snapshot() {
		e.stopTimer()
	}
	s.wg.Wait()
	if s.opt.OnClose != nil {
		return s.opt.OnClose()
	}
	return nil
}

// Token returns a valid token for service: from the near cache when it holds
// a fresh one, else fetched (or read from the shared store) by one fetch
// that concurrent callers share. A token inside its renewal buffer is
// returned only while its renewal is failing; an expired token never.
func (s *Cache) Token(ctx context.Context, service string) (domain.Token, error) {
	c, err := s.get(ctx, service)
	if err != nil {
		return domain.Token{}, err
	}
	return c.tok, nil
}

// BearerToken returns the Authorization header value for service's token,
// "Bearer <token>", with Token's guarantees. A hit allocates nothing.
func (s *Cache) BearerToken(ctx context.Context, service string) (string, error) {
	c, err := s.get(ctx, service)
	if err != nil {
		return "", err
	}
	return c.bearer, nil
}

func (s *Cache) get(ctx context.Context, service string) (*cached, error) {
	if s.closed.Load() {
		return nil, domain.ErrClosed
	}
	now := s.opt.Clock.Now()
	e := s.entry(service)
	// Entries exist only for valid names, so a hit needs no validation.
	if e == nil {
		if err := domain.ValidateServiceName(service); err != nil {
			return nil, err
		}
	} else {
		e.touch(now)
		if c := e.cur.Load(); c != nil {
			switch {
			case now.Before(c.cacheExpiresAt):
				s.counters.hits.Add(1)
				return c, nil
			case now.Before(c.tok.ExpiresAt) && e.failures.Load() > 0:
				// Inside the buffer, but renewal is failing and retrying on
				// its own schedule: the still-valid token is the best answer.
				s.counters.hits.Add(1)
				return c, nil
			}
		}
		if f := e.failure.Load(); f != nil && now.Before(f.until) {
			// The token service just failed and nothing valid is cached:
			// repeat its answer rather than ask again at once.
			s.counters.misses.Add(1)
			return nil, f.err
		}
	}
	s.counters.misses.Add(1)
	return s.fetch(ctx, service)
}

// fetch obtains a token that needs no renewal now, sharing the work with
// every concurrent caller for the same service. The shared work is not
// cancelled by one caller leaving; each caller waits only as long as its
// own ctx allows.
func (s *Cache) fetch(ctx context.Context, service string) (*cached, error) {
	ch := s.fetches.DoChan(service, func() (any, error) {
		return s.tracked(func() (*cached, error) { return s.obtain(service, false) })
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*cached), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Refresh obtains a new token for service from the token service whatever
// the cached one's state, replaces the cached token everywhere, and returns
// it. Concurrent refreshes of one service share one token-service call; a
// renewal running elsewhere in the fleet is waited for and its result
// accepted, since it is newer than the request.
func (s *Cache) Refresh(ctx context.Context, service string) (domain.Token, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return domain.Token{}, err
	}
	if s.closed.Load() {
		return domain.Token{}, domain.ErrClosed
	}
	s.counters.forced.Add(1)
	ch := s.forced.DoChan(service, func() (any, error) {
		return s.tracked(func() (*cached, error) { return s.obtain(service, true) })
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return domain.Token{}, r.Err
		}
		return r.Val.(*cached).tok, nil
	case <-ctx.Done():
		return domain.Token{}, ctx.Err()
	}
}

// Evict removes service's token from the shared store and from every
// replica's near cache, and reports what it removed. Its renewal stops until
// the service is asked for again.
func (s *Cache) Evict(ctx context.Context, service string) (Eviction, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return Eviction{}, err
	}
	if s.closed.Load() {
		return Eviction{}, domain.ErrClosed
	}
	now := s.opt.Clock.Now()
	ev := Eviction{Service: service}
	old, err := s.opt.Store.Get(ctx, service)
	switch {
	case err == nil:
		ev.Token = s.statusOf(service, old, now, false)
	case !errors.Is(err, domain.ErrNotFound):
		return Eviction{}, err
	}
	removed, err := s.opt.Store.Delete(ctx, service)
	if err != nil {
		return Eviction{}, err
	}
	if e := s.entry(service); e != nil {
		if c := e.cur.Swap(nil); c != nil && !removed {
			// The store had lost it (restart, TTL) but this replica still
			// held it: that is still a removal for the caller.
			removed = true
			ev.Token = s.statusOf(service, c.tok, now, false)
		}
		e.stopTimer()
		e.notifyChanged()
	}
	ev.Removed = removed
	if !removed {
		ev.Token = TokenStatus{}
	}
	if removed {
		s.counters.evictions.Add(1)
	}
	s.publish(service)
	return ev, nil
}

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
	if c := e.cur.Load(); c != nil && !s.policy.RenewalDue(c.tok, now) && e.failures.Load() == 0 {
		return // already replaced, by a feed notification for instance
	}
	if !s.track() {
		return
	}
	defer s.wg.Done()
	_, _, _ = s.fetches.Do(service, func() (any, error) { return s.obtain(service, false) })
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
		if now.After(c.renewAt.Add(timerSlack)) && s.policy.RenewalDue(c.tok, now) && !s.idle(e, now) {
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

// subscribe follows the change feed until Close, resubscribing with backoff
// when the feed cannot be reached.
func (s *Cache) subscribe() {
	delay := s.opt.MinBackoff
	for s.ctx.Err() == nil {
		err := s.opt.Feed.Subscribe(s.ctx, s.onChange)
		if err == nil {
			return
		}
		s.log.Warn("change feed unavailable; near caches may lag until it returns", "err", err, "retryIn", delay)
		t := time.NewTimer(delay)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		delay = min(delay*2, s.opt.MaxBackoff)
	}
}

// onChange follows another replica's change of service's token: the near
// cache takes the store's token, or drops its own when the store has none.
func (s *Cache) onChange(service string) {
	e := s.entry(service)
	if e == nil || s.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.FetchTimeout)
	defer cancel()
	tok, err := s.opt.Store.Get(ctx, service)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		if e.isRenewing() {
			break // our own fetch will fill it
		}
		e.cur.Store(nil)
		e.stopTimer()
	case err != nil:
		s.log.Warn("change notification: store read failed", "service", service, "err", err)
		return
	default:
		// Only a newer token replaces ours: the store can hold an older one
		// when a write of ours failed.
		if c := e.cur.Load(); c == nil || (c.tok.AccessToken != tok.AccessToken && !tok.IssuedAt.Before(c.tok.IssuedAt)) {
			if !tok.Expired(s.opt.Clock.Now()) {
				s.install(e, tok)
			}
		}
	}
	e.notifyChanged()
}

func (s *Cache) publish(service string) {
	if s.opt.Feed == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.opt.FetchTimeout)
	defer cancel()
	if err := s.opt.Feed.Publish(ctx, service); err != nil {
		s.log.Warn("change notification not sent; other replicas will catch up from the store", "service", service, "err", err)
	}
}

func (s *Cache) entry(service string) *entry { return s.entries.get(service) }

func (s *Cache) entryOrCreate(service string) *entry {
	return s.entries.getOrCreate(service, func() *entry {
		e := &entry{service: service, changed: make(chan struct{})}
		e.lastUsed.Store(s.opt.Clock.Now().UnixNano())
		return e
	})
}

func (s *Cache) snapshot() []*entry { return s.entries.all() }

// tracked runs a fetch that its callers may abandon as background work, so
// that Close waits for it, and for the release of its renewal lock, before
// OnClose closes the store under it.
func (s *Cache) tracked(fn func() (*cached, error)) (any, error) {
	if !s.track() {
		return nil, domain.ErrClosed
	}
	defer s.wg.Done()
	c, err := fn()
	if err != nil {
		return nil, err
	}
	return c, nil
}

// track counts a piece of background work for Close to wait for; it
// reports false, counting nothing, once Close has begun.
func (s *Cache) track() bool {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.wg.Add(1)
	return true
}

func (s *Cache) goBackground(fn func()) {
	if !s.track() {
		return
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
}

// every runs fn each period until Close.
func (s *Cache) every(period time.Duration, fn func()) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// touch records a use at now, writing at most once a second so that
// concurrent hits do not contend on the same cache line.
func (e *entry) touch(now time.Time) {
	n := now.UnixNano()
	if n-e.lastUsed.Load() > int64(time.Second) {
		e.lastUsed.Store(n)
	}
}

// schedule replaces the entry's pending timer with fn after d.
func (e *entry) schedule(d time.Duration, fn func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
	e.timer = time.AfterFunc(d, fn)
}

func (e *entry) stopTimer() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
}

// notifyChanged wakes everyone waiting in waitChange.
func (e *entry) notifyChanged() {
	e.mu.Lock()
	defer e.mu.Unlock()
	close(e.changed)
	e.changed = make(chan struct{})
}

// waitChange waits for a change of the entry's token, at most d.
func (e *entry) waitChange(ctx context.Context, d time.Duration) error {
	e.mu.Lock()
	ch := e.changed
	e.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// isRenewing reports whether a fetch for the entry's service runs in this
// process.
func (e *entry) isRenewing() bool { return e.renewing.Load() > 0 }

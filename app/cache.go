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
// one lock-free map lookup and no store command, allocates nothing,
// and never waits on a renewal.
//
// A Cache is safe for concurrent use. Close stops its background work.
type Cache struct {
	opt     Options
	log     *slog.Logger
	policy  domain.RenewalPolicy
	backoff domain.Backoff // between retries of a failing fetch
	origin  string         // this Cache's id on the change feed
	// resyncPending is set when the feed missed changes; the next
	// safety-net check clears it and catches up (see resync).
	resyncPending atomic.Bool
	lifeNoted     atomic.Bool // the MaxLife notice is logged (see noteLife)

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

	counters    counters
	budget      *budget                       // token-service calls per client
	issuerSeen  atomic.Pointer[issuerOutcome] // nil until the first token-service call
	probeSeen   atomic.Pointer[issuerOutcome] // nil until the first probe (Options.Prober)
	writeFailed atomic.Pointer[storeWrite]    // nil unless the latest store write failed
	feedFailed  atomic.Pointer[string]        // nil unless the latest change-feed subscription failed; its error, no secret
	events      *EventFeed                    // what happens to the tokens; closed by Close
}

type counters struct {
	hits, misses, requests, failures, renewals, renewalFailures, forced, evictions atomic.Uint64
	// serviceRefusals, rateLimited and reusedRefreshes count the limits'
	// answers (limits.go).
	serviceRefusals, rateLimited, reusedRefreshes atomic.Uint64
	// storeWriteFailures counts the store's refused writes (storeops.go).
	storeWriteFailures atomic.Uint64
}

type issuerOutcome struct {
	ok     bool
	detail string // error text without secrets (TokenServiceError never holds any)
	at     time.Time
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
		opt:     o,
		log:     o.Logger.With("component", "tokencache"),
		policy:  *o.Policy,
		backoff: domain.Backoff{Min: o.MinBackoff, Max: o.MaxBackoff},
		origin:  newOrigin(),
		ctx:     ctx,
		cancel:  cancel,
		budget:  newBudget(o),
		events:  NewEventFeed(o.EventHistory, o.EventQueue),
	}
	s.entries = newEntryMap()
	s.goBackground(func() { s.every(o.CheckInterval, s.checkRenewals) })
	s.goBackground(func() { s.every(o.CleanupInterval, s.cleanup) })
	if o.Feed != nil {
		s.goBackground(s.subscribe)
	}
	if o.Prober != nil {
		s.goBackground(s.probeLoop)
	}
	return s, nil
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
			case now.Before(c.servableUntil) && e.failures.Load() > 0:
				// Inside the buffer, but renewal is failing and retrying on
				// its own schedule: the still-valid token is the best answer,
				// while it has enough life left to arrive valid.
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
	return s.fetchShared(ctx, service)
}

// fetchShared obtains a token that needs no renewal now, sharing the work with
// every concurrent caller for the same service. The shared work is not
// cancelled by one caller leaving; each caller waits only as long as its
// own ctx allows.
func (s *Cache) fetchShared(ctx context.Context, service string) (*cached, error) {
	ch := s.fetches.DoChan(service, func() (any, error) {
		return s.tracked(func() (*cached, error) { return s.obtain(ctx, service, miss) })
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
// accepted, since it is newer than the request. Within
// Options.RefreshMinInterval of the previous forced refresh of service,
// that refresh's token is returned instead (see RefreshWithResult).
func (s *Cache) Refresh(ctx context.Context, service string) (domain.Token, error) {
	r, err := s.RefreshWithResult(ctx, service)
	return r.Token, err
}

// Evict removes service's token from the shared store and from every
// replica's near cache, and reports what it removed. Its renewal stops until
// the service is asked for again, and a recent token-service failure that
// callers were sharing is forgotten here.
func (s *Cache) Evict(ctx context.Context, service string) (Eviction, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return Eviction{}, err
	}
	if s.closed.Load() {
		return Eviction{}, domain.ErrClosed
	}
	now := s.opt.Clock.Now()
	ev := Eviction{Service: service}
	ctx, cancel := s.storeCtx(ctx)
	defer cancel()
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
		// The failures go with the token: the next caller asks the token
		// service at once, whatever Retry-After it last sent, and a new
		// run of failures starts from the first backoff step.
		e.failure.Store(nil)
		e.failures.Store(0)
		e.notifyChanged()
	}
	ev.Removed = removed
	if !removed {
		ev.Token = TokenStatus{}
	}
	if removed {
		s.counters.evictions.Add(1)
		s.emit(Event{Type: EventEvicted, Service: service, ExpiresAt: ev.Token.ExpiresAt})
	}
	s.publish(ports.Change{Service: service, Removed: true})
	return ev, nil
}

package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// newOrigin is a random id for one Cache, its Origin on the change feed:
// 64 random bits in hex, unique across any fleet with certainty for all
// practical purposes.
func newOrigin() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// subscribe follows the change feed until Close, resubscribing with backoff
// when the feed cannot be reached.
func (s *Cache) subscribe() {
	delay := s.opt.MinBackoff
	for s.ctx.Err() == nil {
		err := s.opt.Feed.Subscribe(s.ctx, s.onChange)
		if err == nil {
			s.feedFailed.Store(nil)
			return
		}
		detail := err.Error()
		s.feedFailed.Store(&detail)
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

// onChange follows another replica's change of a service's token from the
// notification alone: the near cache takes the token it carries, when newer
// than its own, or drops its own on a removal. Only a bare hint (from a
// replica of an earlier version) costs a store read. This Cache's own
// changes are ignored: it installed them already. A notice that changes
// were missed marks every token held here for one store read at the next
// safety-net check (see resync).
func (s *Cache) onChange(c ports.Change) {
	if c.Missed {
		s.resyncPending.Store(true)
		return
	}
	if c.Origin == s.origin {
		return
	}
	e := s.entry(c.Service)
	if e == nil || s.closed.Load() {
		return // not held here: nothing to follow
	}
	switch {
	case c.Removed:
		s.dropNear(e)
	case c.Token != nil:
		s.offer(e, *c.Token)
	default:
		s.reread(e)
	}
	e.notifyChanged()
}

// offer installs tok in e when it is newer than e's token: never a token
// issued earlier (a late or replayed notification, or a store holding an
// older one after a write of ours failed), never an expired one.
func (s *Cache) offer(e *entry, tok domain.Token) {
	cur := e.cur.Load()
	if cur != nil && (cur.tok.AccessToken == tok.AccessToken || tok.IssuedAt.Before(cur.tok.IssuedAt)) {
		return
	}
	if !tok.Expired(s.opt.Clock.Now()) {
		s.install(e, tok)
	}
}

// dropNear forgets e's token after it was removed from the store, unless a
// fetch of this process is under way and will fill it.
func (s *Cache) dropNear(e *entry) {
	if e.isRenewing() {
		return
	}
	e.cur.Store(nil)
	e.stopTimer()
}

// reread makes e follow the store: its token when newer, nothing when the
// store has none.
func (s *Cache) reread(e *entry) {
	ctx, cancel := s.storeCtx(s.ctx)
	defer cancel()
	tok, err := s.opt.Store.Get(ctx, e.service)
	switch {
	case errors.Is(err, domain.ErrNotFound):
		s.dropNear(e)
	case err != nil:
		s.log.Warn("store read failed; the near cache may lag", "service", e.service, "err", err)
	default:
		s.offer(e, tok)
	}
}

// resync is the catch-up after the feed missed changes: each token held
// here is read once from the store, so that a removal or forced refresh
// announced meanwhile is not served past the next safety-net check. It
// runs from the check, not at the reconnect, so that a fleet reconnecting
// together (a Redis restart) spreads its reads over the check's jittered
// period instead of reading everything at once. Renewals missed meanwhile
// need no read: a token's own renewal reads the store anyway. Tokens being
// fetched right now are skipped: their fetch reads the store.
func (s *Cache) resync() {
	if !s.resyncPending.Swap(false) {
		return
	}
	n := 0
	for _, e := range s.snapshot() {
		if s.ctx.Err() != nil {
			return
		}
		if e.cur.Load() == nil || e.isRenewing() {
			continue
		}
		s.reread(e)
		e.notifyChanged()
		n++
	}
	s.log.Info("caught up with the store after missed change notifications", "tokens", n)
}

// publish tells the other replicas about c, a change of this Cache.
func (s *Cache) publish(c ports.Change) {
	ctx, cancel := s.storeCtx(context.WithoutCancel(s.ctx))
	defer cancel()
	s.publishCtx(ctx, c)
}

// publishCtx is publish within ctx.
func (s *Cache) publishCtx(ctx context.Context, c ports.Change) {
	if s.opt.Feed == nil {
		return
	}
	c.Origin = s.origin
	if err := s.opt.Feed.Publish(ctx, c); err != nil {
		s.log.Warn("change notification not sent; other replicas will catch up from the store", "service", c.Service, "err", err)
	}
}

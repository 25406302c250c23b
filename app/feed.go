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

// onChange follows another replica's change of a service's token: the near
// cache takes the store's token, or drops its own when the store has none.
// This Cache's own changes are ignored: it installed them already, and
// reading them back would cost a store read per change and, when the store
// refused the write, drop the only copy.
func (s *Cache) onChange(c ports.Change) {
	if c.Origin == s.origin {
		return
	}
	service := c.Service
	e := s.entry(service)
	if e == nil || s.closed.Load() {
		return
	}
	ctx, cancel := s.storeCtx(s.ctx)
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
		if cur := e.cur.Load(); cur == nil || (cur.tok.AccessToken != tok.AccessToken && !tok.IssuedAt.Before(cur.tok.IssuedAt)) {
			if !tok.Expired(s.opt.Clock.Now()) {
				s.install(e, tok)
			}
		}
	}
	e.notifyChanged()
}

// publish tells the other replicas that service's token changed.
func (s *Cache) publish(service string) {
	ctx, cancel := s.storeCtx(context.WithoutCancel(s.ctx))
	defer cancel()
	s.publishCtx(ctx, service)
}

// publishCtx is publish within ctx.
func (s *Cache) publishCtx(ctx context.Context, service string) {
	if s.opt.Feed == nil {
		return
	}
	if err := s.opt.Feed.Publish(ctx, ports.Change{Service: service, Origin: s.origin}); err != nil {
		s.log.Warn("change notification not sent; other replicas will catch up from the store", "service", service, "err", err)
	}
}

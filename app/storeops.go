package app

import (
	"context"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// DefaultStoreTimeout bounds one store command when Options.StoreTimeout
// is zero: the guide's REDIS_TIMEOUT default.
const DefaultStoreTimeout = 2 * time.Second

// storeCtx bounds one store command (or the few of one status answer) by
// StoreTimeout: a hung store costs a caller at most that, after which the
// caller goes on without it.
func (s *Cache) storeCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.opt.StoreTimeout)
}

// storeWrite is the outcome of the latest store write that failed, until
// one succeeds: what Health reports about writes.
type storeWrite struct {
	service string // whose token the store refused
	detail  string // the store's error, without secrets (stores never put one in an error)
	at      time.Time
}

// write puts tok in the store as service's token and records the outcome:
// a failure counts in Counters.StoreWriteFailures and makes the store
// DEGRADED in Health until a write succeeds. The token stays served from
// the near cache either way.
func (s *Cache) write(ctx context.Context, service string, tok domain.Token) bool {
	err := s.opt.Store.Put(ctx, service, tok)
	if err != nil {
		s.counters.storeWriteFailures.Add(1)
		s.writeFailed.Store(&storeWrite{service: service, detail: err.Error(), at: s.opt.Clock.Now()})
		s.log.Warn("store write failed; token kept in this replica only", "service", service, "err", err)
		return false
	}
	if s.writeFailed.Load() != nil {
		s.writeFailed.Store(nil)
	}
	return true
}

// writeAgain tries the refused write of w once more, so that Health sees
// a store that takes writes again (a Redis back from an outage, no longer
// full) without waiting for the next renewal, and the store gets the
// token the other replicas could not read. It writes the near cache's
// token only where the store holds none or an older one, and nothing when
// the near cache holds no valid token: there is then nothing to refuse.
func (s *Cache) writeAgain(ctx context.Context, w *storeWrite) {
	e := s.entry(w.service)
	var c *cached
	if e != nil {
		c = e.cur.Load()
	}
	if c == nil || c.tok.Expired(s.opt.Clock.Now()) {
		s.writeFailed.CompareAndSwap(w, nil)
		return
	}
	stored, err := s.opt.Store.Get(ctx, w.service)
	if err == nil && !stored.IssuedAt.Before(c.tok.IssuedAt) {
		s.writeFailed.CompareAndSwap(w, nil) // written since, by someone
		return
	}
	s.write(ctx, w.service, c.tok)
}

package app

import (
	"github.com/jwtcache/jwtcache/domain"
)

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
	s.events.Close() // ends the event streams
	if s.opt.OnClose != nil {
		return s.opt.OnClose()
	}
	return nil
}

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

// goBackground runs fn in a goroutine Close waits for; it reports false,
// running nothing, once Close has begun.
func (s *Cache) goBackground(fn func()) bool {
	if !s.track() {
		return false
	}
	go func() {
		defer s.wg.Done()
		fn()
	}()
	return true
}

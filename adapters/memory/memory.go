// Package memory is jwtcache's default store: tokens, renewal locks and the
// change feed held in the process, for a single replica (or for tests).
//
// Expiry is lazy: a token is dropped by the Get, List or Prune that first
// finds it expired (by the store's clock), and never returned after its
// ExpiresAt; a lock is free once its ttl has passed, and dropped by the next
// Prune. Nothing runs in the background
// except one goroutine per live Subscribe.
package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

var (
	_ ports.TokenStore    = (*Store)(nil)
	_ ports.RenewalLocker = (*Store)(nil)
	_ ports.ChangeFeed    = (*Store)(nil)
	_ ports.Pinger        = (*Store)(nil)
	_ ports.Pruner        = (*Store)(nil)
)

// Store keeps tokens and renewal locks in maps. It is safe for concurrent
// use; the zero Store is not usable, call New.
type Store struct {
	clock ports.Clock

	mu sync.RWMutex
	// tokens may hold expired tokens until a Get or List finds them.
	tokens map[string]domain.Token // guarded by mu
	// locks may hold expired locks until their service is locked again or
	// unlocked by their owner; an entry counts only before its expires.
	locks map[string]lock // guarded by mu
	// lastOwner makes every TryLock's owner unique.
	lastOwner uint64 // guarded by mu

	subsMu sync.Mutex
	subs   map[*subscriber]struct{} // guarded by subsMu
}

type lock struct {
	owner   uint64
	expires time.Time
}

// New returns an empty Store that tells time by clock (nil means the system
// clock).
func New(clock ports.Clock) *Store {
	if clock == nil {
		clock = ports.SystemClock
	}
	return &Store{
		clock:  clock,
		tokens: make(map[string]domain.Token),
		locks:  make(map[string]lock),
		subs:   make(map[*subscriber]struct{}),
	}
}

// Get returns the token of service, or an error wrapping domain.ErrNotFound
// when none is cached or the cached one has expired.
func (s *Store) Get(_ context.Context, service string) (domain.Token, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return domain.Token{}, fmt.Errorf("memory: get: %w", err)
	}
	now := s.clock.Now()
	s.mu.RLock()
	tok, ok := s.tokens[service]
	s.mu.RUnlock()
	if ok && tok.Expired(now) {
		s.mu.Lock()
		// Another goroutine may have put a new token since the read.
		if cur, ok := s.tokens[service]; ok && cur.Expired(now) {
			delete(s.tokens, service)
		}
		s.mu.Unlock()
		ok = false
	}
	if !ok {
		return domain.Token{}, fmt.Errorf("memory: get %q: %w", service, domain.ErrNotFound)
	}
	return tok, nil
}

// Put replaces the token of service. A token already expired removes the
// service's token instead.
func (s *Store) Put(_ context.Context, service string, tok domain.Token) error {
	if err := domain.ValidateServiceName(service); err != nil {
		return fmt.Errorf("memory: put: %w", err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if tok.Expired(now) {
		delete(s.tokens, service)
		return nil
	}
	s.tokens[service] = tok
	return nil
}

// Delete removes the token of service and reports whether there was one
// (an expired token counts as none).
func (s *Store) Delete(_ context.Context, service string) (bool, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return false, fmt.Errorf("memory: delete: %w", err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	tok, ok := s.tokens[service]
	delete(s.tokens, service)
	return ok && !tok.Expired(now), nil
}

// List returns every unexpired token, in no particular order, dropping the
// expired ones.
func (s *Store) List(_ context.Context) ([]ports.Entry, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := make([]ports.Entry, 0, len(s.tokens))
	for service, tok := range s.tokens {
		if tok.Expired(now) {
			delete(s.tokens, service)
			continue
		}
		entries = append(entries, ports.Entry{Service: service, Token: tok})
	}
	return entries, nil
}

// Prune drops every expired token and every expired lock, which Get and
// List would otherwise drop only when they meet them, and reports how many
// tokens it dropped.
func (s *Store) Prune(_ context.Context) (int, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for service, tok := range s.tokens {
		if tok.Expired(now) {
			delete(s.tokens, service)
			n++
		}
	}
	for service, l := range s.locks {
		if !now.Before(l.expires) {
			delete(s.locks, service)
		}
	}
	return n, nil
}

// TryLock takes the renewal lock of service for ttl, or returns an error
// wrapping domain.ErrLockHeld when someone holds it.
func (s *Store) TryLock(_ context.Context, service string, ttl time.Duration) (ports.Unlock, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return nil, fmt.Errorf("memory: lock: %w", err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("memory: lock %q: ttl %v is not positive", service, ttl)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if l, ok := s.locks[service]; ok && now.Before(l.expires) {
		return nil, fmt.Errorf("memory: lock %q: %w", service, domain.ErrLockHeld)
	}
	s.lastOwner++
	owner := s.lastOwner
	s.locks[service] = lock{owner: owner, expires: now.Add(ttl)}
	return func(context.Context) error {
		s.mu.Lock()
		defer s.mu.Unlock()
		// Only the owner releases: after expiry the entry may be someone
		// else's.
		if l, ok := s.locks[service]; ok && l.owner == owner {
			delete(s.locks, service)
		}
		return nil
	}, nil
}

// Held reports, for each service in order, whether its lock is held now.
func (s *Store) Held(_ context.Context, services []string) ([]bool, error) {
	for _, service := range services {
		if err := domain.ValidateServiceName(service); err != nil {
			return nil, fmt.Errorf("memory: held: %w", err)
		}
	}
	now := s.clock.Now()
	s.mu.RLock()
	defer s.mu.RUnlock()
	held := make([]bool, len(services))
	for i, service := range services {
		l, ok := s.locks[service]
		held[i] = ok && now.Before(l.expires)
	}
	return held, nil
}

// Ping reports the store's health: an in-process store is always up.
func (s *Store) Ping(context.Context) error { return nil }

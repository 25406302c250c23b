// Package memory is jwtcache's default store: tokens, renewal locks and the
// change feed held in the process, for a single replica (or for tests).
//
// Expiry is lazy: a token is dropped by the Get, List or Prune that first
// finds it gone (by the store's clock), and never returned after its
// ExpiresAt, nor after the end of its cached life, MaxTTL after it was
// fetched (Token.CachedUntil: CACHE_TTL, counted as the Redis store and the
// renewal policy count it), whatever expiry it claims; a lock is free once
// its ttl has passed, and dropped by the next Prune. Nothing runs in the background
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

// DefaultMaxTTL is how long a token stays at most when New is given no
// MaxTTL: the guide's CACHE_TTL default, as in the Redis store.
const DefaultMaxTTL = 30 * time.Minute

// Option is an optional setting of New.
type Option func(*Store)

// MaxTTL bounds how long a token stays in the store after its Put,
// whatever its expiry (CACHE_TTL); DefaultMaxTTL without it. It must be
// positive: New panics otherwise, as a programming error (the
// configuration has checked it).
func MaxTTL(d time.Duration) Option {
	return func(s *Store) {
		if d <= 0 {
			panic(fmt.Sprintf("memory: MaxTTL %v is not positive", d))
		}
		s.maxTTL = d
	}
}

// Store keeps tokens and renewal locks in maps. It is safe for concurrent
// use; the zero Store is not usable, call New.
type Store struct {
	clock  ports.Clock
	maxTTL time.Duration

	mu sync.RWMutex
	// tokens may hold gone tokens until a Get or List finds them.
	tokens map[string]held // guarded by mu
	// locks may hold expired locks until their service is locked again or
	// unlocked by their owner; an entry counts only before its expires.
	locks map[string]lock // guarded by mu
	// lastOwner makes every TryLock's owner unique.
	lastOwner uint64 // guarded by mu

	subsMu sync.Mutex
	subs   map[*subscriber]struct{} // guarded by subsMu
}

// held is a stored token and the instant it leaves the store: the end of
// its cached life, tok.CachedUntil(MaxTTL), and never more than MaxTTL
// after its Put.
type held struct {
	tok   domain.Token
	until time.Time
}

// gone reports whether h has left the store at now.
func (h held) gone(now time.Time) bool { return !now.Before(h.until) }

type lock struct {
	owner   uint64
	expires time.Time
}

// New returns an empty Store that tells time by clock (nil means the system
// clock).
func New(clock ports.Clock, opts ...Option) *Store {
	if clock == nil {
		clock = ports.SystemClock
	}
	s := &Store{
		clock:  clock,
		maxTTL: DefaultMaxTTL,
		tokens: make(map[string]held),
		locks:  make(map[string]lock),
		subs:   make(map[*subscriber]struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Get returns the token of service, or an error wrapping domain.ErrNotFound
// when none is cached or the cached one has expired or outlived MaxTTL.
func (s *Store) Get(_ context.Context, service string) (domain.Token, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return domain.Token{}, fmt.Errorf("memory: get: %w", err)
	}
	now := s.clock.Now()
	s.mu.RLock()
	h, ok := s.tokens[service]
	s.mu.RUnlock()
	if ok && h.gone(now) {
		s.mu.Lock()
		// Another goroutine may have put a new token since the read.
		if cur, ok := s.tokens[service]; ok && cur.gone(now) {
			delete(s.tokens, service)
		}
		s.mu.Unlock()
		ok = false
	}
	if !ok {
		return domain.Token{}, fmt.Errorf("memory: get %q: %w", service, domain.ErrNotFound)
	}
	return h.tok, nil
}

// Put replaces the token of service, to stay until the end of its cached
// life: its expiry, or MaxTTL after it was fetched (IssuedAt) if that is
// sooner, and never more than MaxTTL after the Put (a token without an
// IssuedAt, or one from a clock ahead of this one). A token already
// expired removes the service's token instead.
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
	until := tok.CachedUntil(s.maxTTL)
	if limit := now.Add(s.maxTTL); limit.Before(until) {
		until = limit
	}
	s.tokens[service] = held{tok: tok, until: until}
	return nil
}

// Delete removes the token of service and reports whether there was one
// (a gone token counts as none).
func (s *Store) Delete(_ context.Context, service string) (bool, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return false, fmt.Errorf("memory: delete: %w", err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.tokens[service]
	delete(s.tokens, service)
	return ok && !h.gone(now), nil
}

// List returns every token still held, in no particular order, dropping
// the gone ones.
func (s *Store) List(_ context.Context) ([]ports.Entry, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	entries := make([]ports.Entry, 0, len(s.tokens))
	for service, h := range s.tokens {
		if h.gone(now) {
			delete(s.tokens, service)
			continue
		}
		entries = append(entries, ports.Entry{Service: service, Token: h.tok})
	}
	return entries, nil
}

// Prune drops every gone token and every expired lock, which Get and List
// would otherwise drop only when they meet them, and reports how many
// tokens it dropped.
func (s *Store) Prune(_ context.Context) (int, error) {
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for service, h := range s.tokens {
		if h.gone(now) {
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

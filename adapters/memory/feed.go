package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/jwtcache/jwtcache/domain"
)

// subscriber is one Subscribe call. Publish never waits for it: names queue
// in pending and one goroutine per subscriber calls fn, so fn may call back
// into the store (or into whoever published) without deadlocking, and a slow
// fn delays only itself. A name already pending is not queued twice: the
// feed is a hint that a service changed, and one hint per change still
// undelivered is enough. That also bounds the queue by the number of
// services.
type subscriber struct {
	fn   func(service string)
	wake chan struct{} // capacity 1: "pending is not empty"

	mu      sync.Mutex
	pending []string            // guarded by mu; in publish order
	queued  map[string]struct{} // guarded by mu; the names in pending
}

// Publish announces a change of service to every live subscriber of this
// store, asynchronously.
func (s *Store) Publish(_ context.Context, service string) error {
	if err := domain.ValidateServiceName(service); err != nil {
		return fmt.Errorf("memory: publish: %w", err)
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for sub := range s.subs {
		sub.enqueue(service)
	}
	return nil
}

// Subscribe calls fn, from a goroutine of its own and one call at a time,
// for every service published on this store after Subscribe returns, until
// ctx ends.
func (s *Store) Subscribe(ctx context.Context, fn func(service string)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: subscribe: %w", err)
	}
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), queued: make(map[string]struct{})}
	s.subsMu.Lock()
	s.subs[sub] = struct{}{}
	s.subsMu.Unlock()
	go func() {
		defer func() {
			s.subsMu.Lock()
			delete(s.subs, sub)
			s.subsMu.Unlock()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case <-sub.wake:
				for _, service := range sub.take() {
					if ctx.Err() != nil {
						return
					}
					sub.fn(service)
				}
			}
		}
	}()
	return nil
}

func (sub *subscriber) enqueue(service string) {
	sub.mu.Lock()
	if _, ok := sub.queued[service]; !ok {
		sub.queued[service] = struct{}{}
		sub.pending = append(sub.pending, service)
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default: // already signalled; the goroutine will see this name too
	}
}

func (sub *subscriber) take() []string {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	names := sub.pending
	sub.pending = nil
	clear(sub.queued)
	return names
}

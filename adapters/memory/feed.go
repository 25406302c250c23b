package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/jwtcache/jwtcache/ports"
)

// subscriber is one Subscribe call. Publish never waits for it: changes
// queue in pending and one goroutine per subscriber calls fn, so fn may call
// back into the store (or into whoever published) without deadlocking, and a
// slow fn delays only itself. A change already pending is not queued twice:
// the feed is a hint that a service changed, and one hint per change still
// undelivered is enough. That also bounds the queue by the number of
// services times the number of publishers.
type subscriber struct {
	fn   func(ports.Change)
	wake chan struct{} // capacity 1: "pending is not empty"

	mu      sync.Mutex
	pending []ports.Change            // guarded by mu; in publish order
	queued  map[ports.Change]struct{} // guarded by mu; the changes in pending
}

// Publish announces c to every live subscriber of this store,
// asynchronously.
func (s *Store) Publish(_ context.Context, c ports.Change) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("memory: publish: %w", err)
	}
	s.subsMu.Lock()
	defer s.subsMu.Unlock()
	for sub := range s.subs {
		sub.enqueue(c)
	}
	return nil
}

// Subscribe calls fn, from a goroutine of its own and one call at a time,
// for every change published on this store after Subscribe returns, until
// ctx ends.
func (s *Store) Subscribe(ctx context.Context, fn func(ports.Change)) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: subscribe: %w", err)
	}
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), queued: make(map[ports.Change]struct{})}
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
				for _, c := range sub.take() {
					if ctx.Err() != nil {
						return
					}
					sub.fn(c)
				}
			}
		}
	}()
	return nil
}

func (sub *subscriber) enqueue(c ports.Change) {
	sub.mu.Lock()
	if _, ok := sub.queued[c]; !ok {
		sub.queued[c] = struct{}{}
		sub.pending = append(sub.pending, c)
	}
	sub.mu.Unlock()
	select {
	case sub.wake <- struct{}{}:
	default: // already signalled; the goroutine will see this change too
	}
}

func (sub *subscriber) take() []ports.Change {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	changes := sub.pending
	sub.pending = nil
	clear(sub.queued)
	return changes
}

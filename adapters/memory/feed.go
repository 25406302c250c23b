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
// slow fn delays only itself. A change of a service from an origin replaces
// the one still pending from the same origin, if any: the later change
// supersedes it (a newer token, or the removal of the earlier one). That
// bounds the queue by the number of services times the number of
// publishers.
type subscriber struct {
	fn   func(ports.Change)
	wake chan struct{} // capacity 1: "pending is not empty"

	mu      sync.Mutex
	pending []ports.Change    // guarded by mu; in publish order
	queued  map[changeKey]int // guarded by mu; index in pending of each key's change
}

// changeKey is what a pending change supersedes an earlier one by.
type changeKey struct{ service, origin string }

// Publish announces c to every live subscriber of this store,
// asynchronously. The store never loses a change, so it never announces
// missed ones.
func (s *Store) Publish(_ context.Context, c ports.Change) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("memory: publish: %w", err)
	}
	if c.Missed {
		return fmt.Errorf("memory: publish: %w: only a feed announces missed changes", ports.ErrInvalidChange)
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
	sub := &subscriber{fn: fn, wake: make(chan struct{}, 1), queued: make(map[changeKey]int)}
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
	k := changeKey{c.Service, c.Origin}
	sub.mu.Lock()
	if i, ok := sub.queued[k]; ok {
		sub.pending[i] = c
	} else {
		sub.queued[k] = len(sub.pending)
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

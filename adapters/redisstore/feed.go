package redisstore

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
)

// Publish announces a change of service on the change channel.
func (s *Store) Publish(ctx context.Context, service string) error {
	if err := domain.ValidateServiceName(service); err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	if err := s.client.Publish(ctx, s.keys.channel, service).Err(); err != nil {
		return fmt.Errorf("redisstore: publish %q: %w", service, err)
	}
	return nil
}

// Subscribe subscribes to the change channel and returns once Redis has
// confirmed the subscription. fn is then called from one goroutine, one call
// at a time, for every service published, until ctx ends or the Store is
// closed. Messages that are not service names are ignored. go-redis
// reconnects a broken subscription by itself; changes published while it is
// down are lost, which the ChangeFeed contract allows.
func (s *Store) Subscribe(ctx context.Context, fn func(service string)) error {
	ps := s.client.Subscribe(ctx, s.keys.channel)
	if err := confirm(ctx, ps); err != nil {
		_ = ps.Close()
		return fmt.Errorf("redisstore: subscribe: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ps.Close()
		return fmt.Errorf("redisstore: subscribe: %w", redis.ErrClosed)
	}
	s.subs[ps] = struct{}{}
	s.mu.Unlock()

	ch := ps.Channel()
	go func() {
		defer func() {
			s.mu.Lock()
			delete(s.subs, ps)
			s.mu.Unlock()
			_ = ps.Close()
		}()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return // the Store was closed
				}
				if ctx.Err() != nil {
					return
				}
				if domain.ValidateServiceName(msg.Payload) == nil {
					fn(msg.Payload)
				}
			}
		}
	}()
	return nil
}

// confirm waits for Redis to confirm the subscription.
func confirm(ctx context.Context, ps *redis.PubSub) error {
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return err
		}
		if _, ok := msg.(*redis.Subscription); ok {
			return nil
		}
		// Nothing else can come before the confirmation; skip it if it does.
	}
}

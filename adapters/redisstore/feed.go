package redisstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/ports"
)

// Publish announces c on the change channel.
func (s *Store) Publish(ctx context.Context, c ports.Change) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	if err := s.client.Publish(ctx, s.keys.channel, encodeChange(c)).Err(); err != nil {
		return fmt.Errorf("redisstore: publish %q: %w", c.Service, err)
	}
	return nil
}

// Subscribe subscribes to the change channel and returns once Redis has
// confirmed the subscription. fn is then called from one goroutine, one call
// at a time, for every change published, until ctx ends or the Store is
// closed. Messages that do not decode to a valid Change are ignored.
// go-redis reconnects a broken subscription by itself; changes published
// while it is down are lost, which the ChangeFeed contract allows.
func (s *Store) Subscribe(ctx context.Context, fn func(ports.Change)) error {
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
				if c, ok := decodeChange(msg.Payload); ok {
					fn(c)
				}
			}
		}
	}()
	return nil
}

// encodeChange is c as a message on the change channel: the service name,
// then a space and the origin when there is one ("kyc 9f86d081884c7d65").
// A later version may append fields after another space.
func encodeChange(c ports.Change) string {
	if c.Origin == "" {
		return c.Service
	}
	return c.Service + " " + c.Origin
}

// decodeChange reads a message of encodeChange's format, ignoring fields
// after the origin, and reports whether it holds a valid Change. A bare
// service name (what replicas of earlier versions publish) is a Change
// without an origin.
func decodeChange(msg string) (ports.Change, bool) {
	var c ports.Change
	var rest string
	var found bool
	c.Service, rest, found = strings.Cut(msg, " ")
	if found {
		c.Origin, _, _ = strings.Cut(rest, " ")
		if c.Origin == "" {
			return ports.Change{}, false
		}
	}
	if c.Validate() != nil {
		return ports.Change{}, false
	}
	return c, true
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

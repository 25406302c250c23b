package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// The change channel's messages are space-separated fields:
//
//	kyc                                  an earlier version: service only
//	kyc 9f86d081884c7d65                 service and origin: a bare hint
//	kyc 9f86d081884c7d65 token <value>   the token as stored (see below)
//	kyc 9f86d081884c7d65 removed         the token was removed
//
// <value> is the rest of the message: the token encoded exactly as Put
// stores it under the service's token key, so sealed when encryption is on
// and bound to that key (a value published for one service does not open
// as another's). Readers ignore a third field they do not know, and older
// readers ignore everything after the origin, so a newer publisher is
// understood by them as a bare hint.
const (
	fieldToken   = "token"
	fieldRemoved = "removed"
)

const (
	// feedHealthCheck is how long a subscription may hear nothing before
	// go-redis pings Redis to check the connection (its default is 3 s).
	// An idle replica's subscription is its only steady Redis traffic, so
	// the ping is kept rare; a connection that breaks visibly (reset,
	// closed) is noticed at once regardless, and one that dies silently
	// within feedHealthCheck and the ping's timeout.
	feedHealthCheck = 30 * time.Second
	// feedBuffer is how many messages wait for Subscribe's fn before
	// go-redis starts blocking the connection's reader.
	feedBuffer = 1024
)

// Publish announces c on the change channel. A change carrying a token
// encodes it with the store's codec, as Put would store it.
func (s *Store) Publish(ctx context.Context, c ports.Change) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("redisstore: publish: %w", err)
	}
	if c.Missed {
		return fmt.Errorf("redisstore: publish: %w: only a feed announces missed changes", ports.ErrInvalidChange)
	}
	msg, err := encodeChange(s.keys, s.codec, c)
	if err != nil {
		return fmt.Errorf("redisstore: publish %q: %w", c.Service, err)
	}
	if err := s.client.Publish(ctx, s.keys.channel, msg).Err(); err != nil {
		return fmt.Errorf("redisstore: publish %q: %w", c.Service, err)
	}
	return nil
}

// Subscribe subscribes to the change channel and returns once Redis has
// confirmed the subscription. fn is then called from one goroutine, one call
// at a time, for every change published, until ctx ends or the Store is
// closed. A message that does not decode to a valid Change, or whose token
// does not open, is dropped: DroppedChanges counts it and a warning says
// why, never quoting it. go-redis reconnects a broken subscription by
// itself; changes published while it is down are lost, and once it is back
// fn receives a Change with Missed set.
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

	// With subscriptions: after the first, which confirm consumed, each one
	// is go-redis subscribing again on a new connection.
	ch := ps.ChannelWithSubscriptions(redis.WithChannelHealthCheckInterval(feedHealthCheck), redis.WithChannelSize(feedBuffer))
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
				switch msg := msg.(type) {
				case *redis.Subscription:
					if msg.Kind == "subscribe" {
						s.log.Info("redisstore: change feed subscribed again after losing its connection; changes published meanwhile were missed")
						fn(ports.Change{Missed: true})
					}
				case *redis.Message:
					c, err := decodeChange(s.keys, s.codec, msg.Payload)
					if err != nil {
						s.droppedChanges.Add(1)
						s.log.Warn("redisstore: dropping a change notification", "reason", err.Error())
						continue
					}
					fn(c)
				}
			}
		}
	}()
	return nil
}

// DroppedChanges is how many change notifications Subscribe has dropped
// because they did not decode or their token did not open.
func (s *Store) DroppedChanges() uint64 { return s.droppedChanges.Load() }

// encodeChange is c as a message on the change channel (see the format
// above).
func encodeChange(k keys, cd codec, c ports.Change) (string, error) {
	if c.Origin == "" {
		return c.Service, nil // Validate allows no token or removal without one
	}
	head := c.Service + " " + c.Origin
	switch {
	case c.Removed:
		return head + " " + fieldRemoved, nil
	case c.Token != nil:
		value, err := cd.encode(k.token(c.Service), *c.Token)
		if err != nil {
			return "", err
		}
		return head + " " + fieldToken + " " + string(value), nil
	}
	return head, nil
}

// errMalformedChange marks a message that is not a change of any version.
var errMalformedChange = errors.New("malformed change message")

// decodeChange reads a message of any version's format. Its errors never
// quote the message.
func decodeChange(k keys, cd codec, msg string) (ports.Change, error) {
	var c ports.Change
	service, rest, hasOrigin := strings.Cut(msg, " ")
	if err := domain.ValidateServiceName(service); err != nil {
		return ports.Change{}, fmt.Errorf("%w: %w", errMalformedChange, err)
	}
	c.Service = service
	if hasOrigin {
		origin, tail, hasTail := strings.Cut(rest, " ")
		if origin == "" {
			return ports.Change{}, fmt.Errorf("%w: empty origin", errMalformedChange)
		}
		c.Origin = origin
		if hasTail {
			kind, value, _ := strings.Cut(tail, " ")
			switch kind {
			case fieldToken:
				tok, err := cd.decode(k.token(service), []byte(value))
				if err != nil {
					return ports.Change{}, fmt.Errorf("the token for %q: %w", service, err)
				}
				c.Token = &tok
			case fieldRemoved:
				c.Removed = true
			default:
				// A later version's field: what it adds is unknown here, so
				// the change is a bare hint.
			}
		}
	}
	if err := c.Validate(); err != nil {
		return ports.Change{}, fmt.Errorf("%w: %w", errMalformedChange, err)
	}
	return c, nil
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

package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
)

// Refusals CheckAccess tells apart from an outage: Redis answered, and said
// no. Retrying cannot help until someone changes the configuration.
var (
	// ErrAuthentication: Redis refused the username and password
	// (WRONGPASS), or wants one and got none (NOAUTH).
	ErrAuthentication = errors.New("authentication refused by Redis")
	// ErrPermission: the user authenticated but may not run a command
	// jwtcache needs, or not on its keys (NOPERM).
	ErrPermission = errors.New("the Redis user lacks a permission jwtcache needs")
)

// accessCheckService is the service name whose keys CheckAccess reads and
// locks: a valid name no real service is likely to have.
const accessCheckService = "jwtcache-access-check"

// CheckAccess checks, with the commands, keys and channel jwtcache uses,
// that Redis lets the store in: PING, a GET of a token key, a renewal lock
// taken and released (SET NX PX and the release script) under the key
// prefix, then the change feed (see CheckFeed). It writes nothing else,
// and the lock lives a second at most. A refusal wraps ErrAuthentication
// or ErrPermission, with Redis's own words (which never hold the
// password); any other failure (Redis unreachable, slow) is returned as it
// is. ctx bounds the check.
func (s *Store) CheckAccess(ctx context.Context) error {
	check := func() error {
		if err := s.client.Ping(ctx).Err(); err != nil {
			return err
		}
		if _, err := s.Get(ctx, accessCheckService); err != nil && !errors.Is(err, domain.ErrNotFound) {
			return err
		}
		unlock, err := s.TryLock(ctx, accessCheckService, time.Second)
		switch {
		case errors.Is(err, domain.ErrLockHeld):
			// another replica's check
		case err != nil:
			return err
		default:
			if err := unlock(ctx); err != nil {
				return err
			}
		}
		return s.checkFeed(ctx)
	}
	if err := check(); err != nil {
		return classify("check access", err)
	}
	return nil
}

// CheckFeed checks that the user may use the change channel
// (<prefix>:jwt:changes) as the feed does: PUBLISH to it, and SUBSCRIBE
// to it on a connection of its own, closed at once. A user without the
// channel (Redis 7 gives new ACL users none: acl-pubsub-default
// resetchannels) can read and write tokens but never hears another
// replica's renewal, so its near cache serves a token another replica has
// replaced or evicted. The message published is empty, which subscribers
// ignore: it is not a change. Errors are classified as CheckAccess's are;
// it is also what a health check of the feed can call.
func (s *Store) CheckFeed(ctx context.Context) error {
	if err := s.checkFeed(ctx); err != nil {
		return classify("check feed", err)
	}
	return nil
}

func (s *Store) checkFeed(ctx context.Context) error {
	if err := s.client.Publish(ctx, s.keys.channel, "").Err(); err != nil {
		return fmt.Errorf("PUBLISH to the change channel %s: %w", s.keys.channel, err)
	}
	ps := s.client.Subscribe(ctx, s.keys.channel)
	defer ps.Close()
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return fmt.Errorf("SUBSCRIBE to the change channel %s: %w", s.keys.channel, err)
		}
		if _, ok := msg.(*redis.Subscription); ok {
			return nil
		}
	}
}

// classify wraps a refusal by Redis in ErrAuthentication or ErrPermission,
// and anything else with what was being done.
func classify(op string, err error) error {
	switch {
	case redis.IsAuthError(err):
		return fmt.Errorf("redisstore: %w: %w", ErrAuthentication, err)
	case redis.IsPermissionError(err):
		return fmt.Errorf("redisstore: %w: %w", ErrPermission, err)
	default:
		return fmt.Errorf("redisstore: %s: %w", op, err)
	}
}

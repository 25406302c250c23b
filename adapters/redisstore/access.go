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

// CheckAccess checks, with the commands and keys jwtcache uses, that Redis
// lets the store in: PING, a GET of a token key, and a renewal lock taken
// and released (SET NX PX and the release script) under the key prefix.
// It writes nothing else, and the lock lives a second at most. A refusal
// wraps ErrAuthentication or ErrPermission, with Redis's own words (which
// never hold the password); any other failure (Redis unreachable, slow) is
// returned as it is. ctx bounds the check.
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
			return nil // another replica's check
		case err != nil:
			return err
		}
		return unlock(ctx)
	}
	err := check()
	switch {
	case err == nil:
		return nil
	case redis.IsAuthError(err):
		return fmt.Errorf("redisstore: %w: %w", ErrAuthentication, err)
	case redis.IsPermissionError(err):
		return fmt.Errorf("redisstore: %w: %w", ErrPermission, err)
	default:
		return fmt.Errorf("redisstore: check access: %w", err)
	}
}

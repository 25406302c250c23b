package redisstore

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// releaseLock deletes a lock only while it still holds the caller's owner
// id: after expiry the key may be another renewer's lock.
var releaseLock = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// TryLock takes the renewal lock of service for ttl (rounded up to whole
// milliseconds), or returns an error wrapping domain.ErrLockHeld when
// someone holds it.
func (s *Store) TryLock(ctx context.Context, service string, ttl time.Duration) (ports.Unlock, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return nil, fmt.Errorf("redisstore: lock: %w", err)
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("redisstore: lock %q: ttl %v is not positive", service, ttl)
	}
	// Rounded up: a lock shorter than asked could let a second renewer in
	// while the first still works.
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	key := s.keys.lock(service)
	owner := rand.Text()
	ok, err := s.client.SetNX(ctx, key, owner, ttl).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: lock %q: %w", service, err)
	}
	if !ok {
		return nil, fmt.Errorf("redisstore: lock %q: %w", service, domain.ErrLockHeld)
	}
	return func(ctx context.Context) error {
		if err := releaseLock.Run(ctx, s.client, []string{key}, owner).Err(); err != nil {
			return fmt.Errorf("redisstore: unlock %q: %w", service, err)
		}
		return nil
	}, nil
}

// Held reports, for each service in order, whether its lock is held now. It
// asks in one pipeline (split by node in a cluster).
func (s *Store) Held(ctx context.Context, services []string) ([]bool, error) {
	for _, service := range services {
		if err := domain.ValidateServiceName(service); err != nil {
			return nil, fmt.Errorf("redisstore: held: %w", err)
		}
	}
	held := make([]bool, len(services))
	if len(services) == 0 {
		return held, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.IntCmd, len(services))
	for i, service := range services {
		cmds[i] = pipe.Exists(ctx, s.keys.lock(service))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisstore: held: %w", err)
	}
	for i, cmd := range cmds {
		held[i] = cmd.Val() > 0
	}
	return held, nil
}

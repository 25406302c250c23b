package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

// indexSkew is how far clocks of replicas sharing the store may disagree.
// Index scores come from the putting replica's clock, so List keeps members
// up to indexSkew past their score (their token key answers for itself) and
// only then drops them by score alone.
const indexSkew = time.Minute

// listBatch bounds the GETs of one List pipeline.
const listBatch = 512

// removeStale removes index members whose score is still the one List read:
// a Put since then has raised the score (ZADD GT with a later expiry) and
// keeps its member. It touches only the index key, so it is cluster-safe.
var removeStale = redis.NewScript(`
local removed = 0
for i = 1, #ARGV, 2 do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) == tonumber(ARGV[i + 1]) then
    removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return removed
`)

// Get returns the token of service, or an error wrapping domain.ErrNotFound
// when none is cached or the cached value is unreadable.
func (s *Store) Get(ctx context.Context, service string) (domain.Token, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return domain.Token{}, fmt.Errorf("redisstore: get: %w", err)
	}
	key := s.keys.token(service)
	var get, floor *redis.StringCmd
	if _, ok := s.floorOf(); ok {
		// One round trip: both keys are in the service's slot.
		pipe := s.client.Pipeline()
		get, floor = pipe.Get(ctx, key), pipe.Get(ctx, s.keys.floor(service))
		_, _ = pipe.Exec(ctx) // errors are read per command
	} else {
		get = s.client.Get(ctx, key)
	}
	value, err := get.Bytes()
	switch {
	case errors.Is(err, redis.Nil):
		return domain.Token{}, fmt.Errorf("redisstore: get %q: %w", service, domain.ErrNotFound)
	case isWrongType(err):
		s.unreadable("get", service, "the key holds a value of another type")
		return domain.Token{}, fmt.Errorf("redisstore: get %q: %w: %w", service, errUnreadable, domain.ErrNotFound)
	case err != nil:
		return domain.Token{}, fmt.Errorf("redisstore: get %q: %w", service, err)
	}
	tok, err := s.read(service, value, floor)
	switch {
	case errors.Is(err, errUnreadable):
		s.unreadable("get", service, err.Error())
		return domain.Token{}, fmt.Errorf("redisstore: get %q: %w: %w", service, err, domain.ErrNotFound)
	case err != nil:
		return domain.Token{}, fmt.Errorf("redisstore: get %q: floor: %w", service, err)
	}
	return tok, nil
}

// Put replaces the token of service. The key expires at the end of the
// token's cached life, tok.CachedUntil(MaxTTL): with the token, or MaxTTL
// after it was fetched (IssuedAt) if that is sooner, the instant the
// renewal policy (domain.RenewalPolicy.MaxLife) renews it ahead of. A
// token with less than a millisecond of cached life left removes the
// service's token instead. A token holding invalid UTF-8 is refused: the
// JSON value format could not give it back unchanged.
func (s *Store) Put(ctx context.Context, service string, tok domain.Token) error {
	if err := domain.ValidateServiceName(service); err != nil {
		return fmt.Errorf("redisstore: put: %w", err)
	}
	now := s.clock.Now()
	// Truncated to whole milliseconds (PX), so the key never outlives the
	// cached life. MaxTTL from now still bounds it when IssuedAt is missing
	// or ahead of this replica's clock.
	ttl := min(tok.CachedUntil(s.maxTTL).Sub(now), s.maxTTL).Truncate(time.Millisecond)
	if ttl <= 0 {
		if _, err := s.remove(ctx, service); err != nil {
			return fmt.Errorf("redisstore: put %q: %w", service, err)
		}
		return nil
	}
	key := s.keys.token(service)
	value, err := s.codec.encode(key, tok)
	if err != nil {
		return fmt.Errorf("redisstore: put %q: %w", service, err)
	}
	// Key first, index second: see the package comment.
	if err := s.set(ctx, service, tok, value, ttl, now); err != nil {
		return fmt.Errorf("redisstore: put %q: %w", service, err)
	}
	expiresAt := now.Add(ttl).UnixMilli()
	err = s.client.ZAddGT(ctx, s.keys.index, redis.Z{Score: float64(expiresAt), Member: service}).Err()
	if err != nil {
		return fmt.Errorf("redisstore: put %q: index: %w", service, err)
	}
	return nil
}

// set writes value, service's token key, and with encryption its floor,
// the two in one MULTI so that they always match.
func (s *Store) set(ctx context.Context, service string, tok domain.Token, value []byte, ttl time.Duration, now time.Time) error {
	key := s.keys.token(service)
	c, ok := s.floorOf()
	if !ok {
		return s.client.Set(ctx, key, value, ttl).Err()
	}
	floorKey := s.keys.floor(service)
	floor, err := c.encodeFloor(floorKey, tok.IssuedAt)
	if err != nil {
		return err
	}
	_, err = s.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, key, value, ttl)
		p.Set(ctx, floorKey, floor, floorTTL(tok, now, ttl))
		return nil
	})
	return err
}

// Delete removes the token of service and reports whether there was one.
func (s *Store) Delete(ctx context.Context, service string) (bool, error) {
	if err := domain.ValidateServiceName(service); err != nil {
		return false, fmt.Errorf("redisstore: delete: %w", err)
	}
	ok, err := s.remove(ctx, service)
	if err != nil {
		return false, fmt.Errorf("redisstore: delete %q: %w", service, err)
	}
	return ok, nil
}

// remove deletes the index member, then the token key (see the package
// comment for the order), and reports whether the key existed.
func (s *Store) remove(ctx context.Context, service string) (bool, error) {
	if err := s.client.ZRem(ctx, s.keys.index, service).Err(); err != nil {
		return false, fmt.Errorf("index: %w", err)
	}
	n, err := s.client.Del(ctx, s.keys.token(service)).Result()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// List returns every readable token, in no particular order. It reads the
// index, never the key space, and tidies the index as it goes.
func (s *Store) List(ctx context.Context) ([]ports.Entry, error) {
	floor, _, err := s.pruneIndex(ctx)
	if err != nil {
		return nil, fmt.Errorf("redisstore: list: index: %w", err)
	}
	members, err := s.client.ZRangeByScoreWithScores(ctx, s.keys.index, &redis.ZRangeBy{Min: floor, Max: "+inf"}).Result()
	if err != nil {
		return nil, fmt.Errorf("redisstore: list: index: %w", err)
	}
	entries := make([]ports.Entry, 0, len(members))
	var stale []any // member, score, member, score, ... for removeStale
	for batch := range slices.Chunk(members, listBatch) {
		pipe := s.client.Pipeline()
		gets := make([]*redis.StringCmd, len(batch))
		floors := make([]*redis.StringCmd, len(batch))
		_, keepsFloors := s.floorOf()
		for i, m := range batch {
			service, _ := m.Member.(string)
			if domain.ValidateServiceName(service) != nil {
				// Not ours to read: a key for it could not be ours either.
				stale = append(stale, m.Member, formatScore(m.Score))
				continue
			}
			gets[i] = pipe.Get(ctx, s.keys.token(service))
			if keepsFloors {
				floors[i] = pipe.Get(ctx, s.keys.floor(service))
			}
		}
		// Errors are read per command below; a failed pipeline sets each.
		_, _ = pipe.Exec(ctx)
		for i, get := range gets {
			if get == nil {
				continue
			}
			service := batch[i].Member.(string)
			value, err := get.Bytes()
			switch {
			case errors.Is(err, redis.Nil):
				stale = append(stale, service, formatScore(batch[i].Score))
				continue
			case isWrongType(err):
				s.unreadable("list", service, "the key holds a value of another type")
				continue
			case err != nil:
				return nil, fmt.Errorf("redisstore: list: get %q: %w", service, err)
			}
			tok, err := s.read(service, value, floors[i])
			switch {
			case errors.Is(err, errUnreadable):
				s.unreadable("list", service, err.Error())
				continue
			case err != nil:
				return nil, fmt.Errorf("redisstore: list: get %q: floor: %w", service, err)
			}
			entries = append(entries, ports.Entry{Service: service, Token: tok})
		}
	}
	if len(stale) > 0 {
		// Best effort: a member left behind is removed by a later List.
		if err := removeStale.Run(ctx, s.client, []string{s.keys.index}, stale...).Err(); err != nil {
			s.log.DebugContext(ctx, "redisstore: could not tidy the index", "error", err)
		}
	}
	return entries, nil
}

// Prune removes the index members whose token key has expired, by their
// scores alone: it reads no token and sends one command (ZREMRANGEBYSCORE),
// whatever the number of services. Redis's own key expiry removes the
// token values. Idempotent, so every replica may run it on its schedule.
func (s *Store) Prune(ctx context.Context) (int, error) {
	_, n, err := s.pruneIndex(ctx)
	if err != nil {
		return 0, fmt.Errorf("redisstore: prune: index: %w", err)
	}
	return n, nil
}

// pruneIndex removes the members more than indexSkew past their score:
// their token key has expired, whatever the clock of the replica that put
// it. It returns the lowest score kept, as a ZRANGEBYSCORE bound.
func (s *Store) pruneIndex(ctx context.Context) (floor string, removed int, err error) {
	floor = strconv.FormatInt(s.clock.Now().Add(-indexSkew).UnixMilli(), 10)
	n, err := s.client.ZRemRangeByScore(ctx, s.keys.index, "-inf", "("+floor).Result()
	return floor, int(n), err
}

func formatScore(score float64) string { return strconv.FormatFloat(score, 'f', -1, 64) }

// isWrongType reports whether err is Redis saying the key holds another
// type: a key some other program wrote.
func isWrongType(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "WRONGTYPE")
}

// unreadable counts and reports a value Get or List cannot read. reason
// never quotes the value.
func (s *Store) unreadable(op, service, reason string) {
	s.corrupt.Add(1)
	s.log.Warn("redisstore: ignoring an unreadable cached token; the next renewal overwrites it",
		"op", op, "service", service, "reason", reason)
}

package redisstore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/jwtcache/jwtcache/domain"
)

// The floor: with encryption, whoever can write to Redis cannot make a
// token, but could write back an older sealed value of the same key that
// they copied earlier, undoing a refresh (the way an operator replaces a
// token suspected leaked). So each Put also writes the service's floor,
// the issue time of the token it writes, sealed under the floor's own key
// (P:jwt:{S}:floor) and written with the token in one MULTI, and Get and
// List refuse a token issued before its service's floor.
//
// The floor outlives the token key: it expires when the token does, even
// when MaxTTL ends the token key sooner, and Delete leaves it, so that an
// evicted or expired key cannot be brought back either. What it does not
// cover: someone who can write to Redis can also write back an old floor
// value, or delete the floor, along with the old token; then only the
// replicas' own near caches, which never take an older token, stand in the
// way. After a suspected compromise of Redis, rotate the encryption key.

// floorV1 is the plain text of a floor value, sealed as format 2.
type floorV1 struct {
	V     int       `json:"v"`
	Floor time.Time `json:"floor"`
}

// floorTTL is how long the floor of tok, written now, is kept: as long as
// the token lives, at least as long as its key.
func floorTTL(tok domain.Token, now time.Time, keyTTL time.Duration) time.Duration {
	return max(tok.ExpiresAt.Sub(now).Truncate(time.Millisecond), keyTTL)
}

// floorOf is the codec's floor keeper: sealed keeps floors, jsonV1 does
// not (without encryption anyone who can write to Redis can plant any
// token; a floor would protect nothing).
func (s *Store) floorOf() (sealed, bool) {
	c, ok := s.codec.(sealed)
	return c, ok
}

func (c sealed) encodeFloor(key string, at time.Time) ([]byte, error) {
	plain, err := json.Marshal(floorV1{V: formatV1, Floor: at.UTC()})
	if err != nil {
		return nil, err
	}
	return c.seal(key, plain)
}

func (c sealed) decodeFloor(key string, value []byte) (time.Time, error) {
	plain, err := c.open(key, value)
	if err != nil {
		return time.Time{}, fmt.Errorf("service floor: %w", err)
	}
	var f floorV1
	if err := json.Unmarshal(plain, &f); err != nil || f.V != formatV1 || f.Floor.IsZero() {
		return time.Time{}, fmt.Errorf("%w: service floor is not a floor record", errUnreadable)
	}
	return f.Floor, nil
}

// read decodes value, the value of service's token key, and checks it
// against floor, the reply to the GET of its floor key (nil when the
// store keeps no floor). Its errors wrap errUnreadable, or are Redis's.
func (s *Store) read(service string, value []byte, floor *redis.StringCmd) (domain.Token, error) {
	tok, err := s.codec.decode(s.keys.token(service), value)
	if err != nil || floor == nil {
		return tok, err
	}
	fv, err := floor.Bytes()
	switch {
	case err == redis.Nil:
		return tok, nil // written before floors, or the floor has expired
	case isWrongType(err):
		return domain.Token{}, fmt.Errorf("%w: the service floor key holds a value of another type", errUnreadable)
	case err != nil:
		return domain.Token{}, err
	}
	c, _ := s.floorOf()
	at, err := c.decodeFloor(s.keys.floor(service), fv)
	if err != nil {
		return domain.Token{}, err
	}
	if tok.IssuedAt.Before(at) {
		return domain.Token{}, fmt.Errorf("%w: issued before the service's floor (an older value written back)", errUnreadable)
	}
	return tok, nil
}

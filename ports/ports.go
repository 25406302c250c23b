package ports

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// TokenIssuer obtains a new token for a service from the token service.
//
// Issue makes one token request per call: the core, not the issuer, decides
// when to call and coalesces concurrent callers. A failure is returned as a
// *domain.TokenServiceError (or the context's error) and never contains the
// client secret or a token.
type TokenIssuer interface {
	Issue(ctx context.Context, service string) (domain.Token, error)
}

// Entry is one cached token with the service it belongs to.
type Entry struct {
	Service string
	Token   domain.Token
}

// TokenStore keeps the current token of each service where every replica
// sharing the store can read it.
//
// Get returns domain.ErrNotFound when nothing (or nothing readable) is cached
// for the service; a store may return an expired token, the core decides
// what to do with it. Put replaces the service's token and lets the store
// drop it once it expires. Delete reports whether there was something to
// remove. List returns every cached token, in no particular order, without
// scanning the whole key space.
type TokenStore interface {
	Get(ctx context.Context, service string) (domain.Token, error)
	Put(ctx context.Context, service string, tok domain.Token) error
	Delete(ctx context.Context, service string) (bool, error)
	List(ctx context.Context) ([]Entry, error)
}

// Unlock releases a renewal lock. It releases only the lock it was returned
// for: a lock that expired and was taken by another renewer is left alone.
type Unlock func(ctx context.Context) error

// RenewalLocker gives one renewer at a time, across every replica sharing
// it, the right to call the token service for a service.
//
// TryLock never waits: it returns domain.ErrLockHeld when another renewer
// holds the lock. The lock expires by itself after ttl, so a renewer that
// dies holding it delays renewal by at most ttl. Held reports, for each of
// the given services in order, whether some renewer holds its lock now.
type RenewalLocker interface {
	TryLock(ctx context.Context, service string, ttl time.Duration) (Unlock, error)
	Held(ctx context.Context, services []string) ([]bool, error)
}

// ChangeFeed tells a replica that another replica changed or removed a
// service's token, so that its in-process near cache can follow promptly
// without reading the store.
//
// Publish announces a change. Subscribe calls fn for every change published
// by anyone (this replica included: the Origin tells them apart) until ctx
// ends; it returns once the subscription is live. A feed may drop
// notifications while its connection is down; once it is back, it calls fn
// with a Change whose Missed is set, so that the subscriber can catch up
// from the store. Publish rejects a Change that fails Validate, or one
// with Missed set; Subscribe never delivers a Change that fails Validate.
type ChangeFeed interface {
	Publish(ctx context.Context, c Change) error
	Subscribe(ctx context.Context, fn func(Change)) error
}

// Pruner is implemented by stores that keep something besides the token
// values that expiry alone does not remove (an index, say), or that drop
// expired tokens only lazily.
//
// Prune removes what has expired without reading any token, and reports
// how many entries it removed. It is idempotent and cheap, so that every
// replica sharing a store may call it on its own schedule.
type Pruner interface {
	Prune(ctx context.Context) (int, error)
}

// MaxOriginLen is the longest Change.Origin accepted.
const MaxOriginLen = 64

// ErrInvalidOrigin is wrapped by the error about a malformed Change.Origin.
var ErrInvalidOrigin = errors.New("invalid change origin")

// ErrInvalidChange is wrapped by the error about a Change whose fields do
// not go together.
var ErrInvalidChange = errors.New("invalid change")

// Change is one notification on a ChangeFeed: Service's token was replaced
// by Token, or removed (Removed). A change with neither is a bare hint that
// Service's token changed, the store holding the truth: what replicas of
// earlier versions publish. Missed, alone, is the feed's own notice that
// changes may have been lost.
type Change struct {
	// Service is the service whose token changed.
	Service string
	// Origin identifies the publisher, a random id per Cache, so that a
	// replica can ignore its own notifications. Empty when the publisher
	// did not say; such a change is nobody's own. At most MaxOriginLen
	// ASCII letters, digits, '-' and '_'. A change carrying a Token or
	// Removed has one.
	Origin string
	// Token is the token the publisher stored for Service, or nil.
	Token *domain.Token
	// Removed is true when Service's token was removed from the store.
	Removed bool
	// Missed is set, with every other field zero, only by a feed, on
	// Subscribe's fn: the feed's connection was lost and is back, and
	// changes published meanwhile were not delivered.
	Missed bool
}

// Validate checks c's Service with domain.ValidateServiceName, its Origin
// against the rule above, and that its fields go together; the error wraps
// domain.ErrInvalidServiceName, ErrInvalidOrigin or ErrInvalidChange.
func (c Change) Validate() error {
	if c.Missed {
		if c != (Change{Missed: true}) {
			return fmt.Errorf("%w: a missed-changes notice carries nothing else", ErrInvalidChange)
		}
		return nil
	}
	if err := domain.ValidateServiceName(c.Service); err != nil {
		return err
	}
	if len(c.Origin) > MaxOriginLen {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidOrigin, MaxOriginLen)
	}
	for i := 0; i < len(c.Origin); i++ {
		b := c.Origin[i]
		if (b < 'a' || b > 'z') && (b < 'A' || b > 'Z') && (b < '0' || b > '9') && b != '-' && b != '_' {
			return fmt.Errorf("%w: only letters, digits, '-' and '_' allowed", ErrInvalidOrigin)
		}
	}
	switch {
	case c.Token != nil && c.Removed:
		return fmt.Errorf("%w: a token and a removal at once", ErrInvalidChange)
	case c.Token != nil && c.Token.IsZero():
		return fmt.Errorf("%w: an empty token", ErrInvalidChange)
	case (c.Token != nil || c.Removed) && c.Origin == "":
		return fmt.Errorf("%w: a token or a removal without an origin", ErrInvalidChange)
	}
	return nil
}

// Clock is the core's only source of the current time.
type Clock interface {
	Now() time.Time
}

// Pinger is implemented by adapters whose health can be checked cheaply,
// for the health endpoint.
type Pinger interface {
	Ping(ctx context.Context) error
}

// SystemClock is the Clock of the real world. Every adapter defaults to
// it; tests pass their own.
var SystemClock Clock = systemClock{}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

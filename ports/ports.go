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
// service's token, so that its in-process near cache can follow promptly.
//
// Publish announces a change. Subscribe calls fn for every change published
// by anyone (this replica included: the Origin tells them apart) until ctx
// ends; it returns once the subscription is live. A feed may drop
// notifications while its connection is down: the core treats it as a hint,
// never as the truth. Publish rejects a Change that fails Validate, and
// Subscribe never delivers one.
type ChangeFeed interface {
	Publish(ctx context.Context, c Change) error
	Subscribe(ctx context.Context, fn func(Change)) error
}

// MaxOriginLen is the longest Change.Origin accepted.
const MaxOriginLen = 64

// ErrInvalidOrigin is wrapped by the error about a malformed Change.Origin.
var ErrInvalidOrigin = errors.New("invalid change origin")

// Change is one notification on a ChangeFeed: Service's token changed or
// was removed, and the store holds the truth. It is a struct so that a
// notification can carry more (the stored value, say) without changing the
// port's methods.
type Change struct {
	// Service is the service whose token changed.
	Service string
	// Origin identifies the publisher, a random id per Cache, so that a
	// replica can ignore its own notifications. Empty when the publisher
	// did not say; such a change is nobody's own. At most MaxOriginLen
	// ASCII letters, digits, '-' and '_'.
	Origin string
}

// Validate checks c's Service with domain.ValidateServiceName and its
// Origin against the rule above; the error wraps
// domain.ErrInvalidServiceName or ErrInvalidOrigin.
func (c Change) Validate() error {
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

package domain

import (
	"errors"
	"fmt"
	"math"
	"time"
)

var (
	// ErrTooManyServices is wrapped by the refusal of a service name beyond
	// the cache's limit of names (TooManyServicesError).
	ErrTooManyServices = errors.New("too many service names")
	// ErrRateLimited is wrapped by the refusal of a token-service call over
	// the client's budget (RateLimitedError).
	ErrRateLimited = errors.New("token-service budget exhausted")
)

// TooManyServicesError refuses a service name that has nothing cached
// while the cache already holds Limit names. Names it holds keep working.
type TooManyServicesError struct {
	Service string
	Limit   int
}

func (e *TooManyServicesError) Error() string {
	return fmt.Sprintf("service %q refused: the cache already holds its limit of %d service names", e.Service, e.Limit)
}

func (e *TooManyServicesError) Unwrap() error { return ErrTooManyServices }

// RateLimitedError refuses a token-service call a caller asked for (a miss
// or a forced refresh) because the client's budget is spent; trying again
// after RetryAfter may succeed. The token service was not asked.
type RateLimitedError struct {
	Service    string
	RetryAfter time.Duration
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("token-service budget exhausted for service %q; retry in %v", e.Service, e.RetryAfter)
}

func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }

// MinRate is the slowest rate a RateLimit keeps: one call every 1000 s. A
// positive Rate below it counts as MinRate, so that one interval (1s/Rate)
// always fits a Duration: 1s/1e-300 once overflowed to the shortest
// interval and so turned the budget off.
const MinRate = 0.001

// RateLimit is a token bucket: it holds at most Burst tokens (a Burst
// below 1 is 1) and gains Rate tokens a second (at least MinRate); each
// call takes one. A Rate of 0 or less turns it off: every Take is allowed.
//
// It is computed as the generic cell rate algorithm, in whole
// nanoseconds, so that its boundaries are exact: the state is the instant
// the bucket is full again, each call pushes that instant one interval
// (1s/Rate) later, and a call is refused when that would put it more than
// Burst intervals ahead of now.
type RateLimit struct {
	Rate  float64
	Burst int
}

// Bucket is one RateLimit's state; the zero Bucket is full.
type Bucket struct {
	// FullAt is the instant the bucket holds Burst tokens again.
	FullAt time.Time
}

// Off reports whether l allows everything.
func (l RateLimit) Off() bool { return !(l.Rate > 0) }

// interval is the time one token takes to come back: at least 1ns, at
// most 1s/MinRate.
func (l RateLimit) interval() time.Duration {
	return max(time.Duration(float64(time.Second)/max(l.Rate, MinRate)), time.Nanosecond)
}

// window is how far ahead of now FullAt may be: Burst intervals, capped so
// that it fits a Duration.
func (l RateLimit) window() time.Duration {
	burst := max(int64(l.Burst), 1)
	iv := l.interval()
	if burst > math.MaxInt64/int64(iv) {
		return math.MaxInt64
	}
	return time.Duration(burst) * iv
}

// Take is a caller's request at now: allowed (wait 0) with the bucket's
// next state, or refused with the unchanged bucket and the wait after
// which it would be allowed.
func (l RateLimit) Take(b Bucket, now time.Time) (next Bucket, wait time.Duration) {
	if l.Off() {
		return b, 0
	}
	full := b.FullAt
	if full.Before(now) {
		full = now
	}
	full = full.Add(l.interval())
	if ahead := full.Sub(now); ahead > l.window() {
		return b, ahead - l.window()
	}
	return Bucket{FullAt: full}, 0
}

// Spend takes a token at now for a call that is never refused (a
// background renewal): when the bucket is empty it stays empty, so that
// renewals slow callers down but do not shut them out for longer than an
// empty bucket would.
func (l RateLimit) Spend(b Bucket, now time.Time) Bucket {
	if l.Off() {
		return b
	}
	full := b.FullAt
	if full.Before(now) {
		full = now
	}
	full = full.Add(l.interval())
	if limit := now.Add(l.window()); full.After(limit) {
		full = limit
	}
	return Bucket{FullAt: full}
}

package app

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jwtcache/jwtcache/domain"
)

// EventType names what happened to a service's token.
type EventType string

// The events the Cache reports. None carries a token.
const (
	// EventObtained: a token was fetched because none usable was cached (a
	// miss).
	EventObtained EventType = "obtained"
	// EventRenewed: the background renewal replaced a token ahead of its
	// buffer.
	EventRenewed EventType = "renewed"
	// EventRenewalFailed: a renewal failed; the still-valid token is served
	// and the renewal retried with backoff.
	EventRenewalFailed EventType = "renewal_failed"
	// EventRefreshed: a forced refresh replaced the token.
	EventRefreshed EventType = "refreshed"
	// EventRefreshFailed: a forced refresh failed; the cached token, if
	// any, is unchanged.
	EventRefreshFailed EventType = "refresh_failed"
	// EventEvicted: the token was removed on request.
	EventEvicted EventType = "evicted"
	// EventRefused: callers were refused a token: nothing valid was cached
	// and the token service failed. Reported once per token-service
	// attempt, not per refused caller.
	EventRefused EventType = "refused"
)

// Event is one thing that happened to a service's token in this process.
// It never holds the token.
type Event struct {
	// ID numbers the events of one EventFeed consecutively from 1, so that
	// a gap tells a subscriber it missed events.
	ID      uint64
	Type    EventType
	Service string
	At      time.Time
	// ExpiresAt is the new token's expiry (obtained, renewed, refreshed)
	// or the removed one's (evicted); zero otherwise.
	ExpiresAt time.Time
	// Failure classifies a failure (renewal_failed, refresh_failed,
	// refused): the token service's error kind (rejected, unreachable,
	// timeout, bad_response) or "error" for anything else.
	Failure string
	// TokenServiceError is the token service's RFC 6749 §5.2 error code,
	// when it sent one.
	TokenServiceError string
	// Failures is the number of consecutive failed renewals so far
	// (renewal_failed).
	Failures int
}

// failureOf classifies err for an Event without its text, which may come
// from a library or the token service.
func failureOf(err error) (failure, code string) {
	var tse *domain.TokenServiceError
	switch {
	case errors.As(err, &tse):
		return tse.Kind.String(), tse.Code
	case errors.Is(err, context.DeadlineExceeded):
		return domain.Timeout.String(), ""
	default:
		return "error", ""
	}
}

// Events is the feed of what happens to this process's tokens: obtained,
// renewed, refreshed, evicted, and failures. It never carries a token. It
// is closed, ending every subscription, by Close.
func (s *Cache) Events() *EventFeed { return s.events }

// emit publishes e, stamped now.
func (s *Cache) emit(e Event) {
	e.At = s.opt.Clock.Now()
	s.events.Publish(e)
}

// emitFailure publishes a failure of service's fetch. A name the
// configuration or a limit refuses (an unknown service, a caller over its
// budget, a service beyond the cap) is not news about a token, and could
// flood the feed: it makes no event (the metrics count those refusals).
func (s *Cache) emitFailure(t EventType, service string, err error, failures int32) {
	if errors.Is(err, domain.ErrUnknownService) || errors.Is(err, domain.ErrRateLimited) || errors.Is(err, domain.ErrTooManyServices) {
		return
	}
	failure, code := failureOf(err)
	s.emit(Event{Type: t, Service: service, Failure: failure, TokenServiceError: code, Failures: int(failures)})
}

// Limits of an EventFeed.
const (
	// DefaultEventHistory is how many recent events an EventFeed keeps for
	// new subscribers.
	DefaultEventHistory = 256
	// DefaultEventQueue is how many events may wait for one slow
	// subscriber; more are dropped for it, never waited for.
	DefaultEventQueue = 64
)

// EventFeed broadcasts events to subscribers without ever blocking the
// publisher: it keeps the latest events in a ring for subscribers that
// join later, and gives each subscriber a bounded queue; a subscriber that
// does not keep up loses events (counted, and visible as a gap in the
// IDs) instead of slowing the cache down.
//
// An EventFeed is safe for concurrent use.
type EventFeed struct {
	queue int

	mu sync.Mutex
	// ring holds the latest events; ring[(start+i)%len(ring)] is the i-th
	// oldest of the n held. Guarded by mu, as are the fields below.
	ring     []Event
	start, n int
	lastID   uint64
	subs     map[*Subscription]struct{}
	closed   bool
}

// NewEventFeed returns a feed keeping history events, with queues of
// queue events per subscriber; zero or less means DefaultEventHistory and
// DefaultEventQueue.
func NewEventFeed(history, queue int) *EventFeed {
	if history <= 0 {
		history = DefaultEventHistory
	}
	if queue <= 0 {
		queue = DefaultEventQueue
	}
	return &EventFeed{queue: queue, ring: make([]Event, history), subs: map[*Subscription]struct{}{}}
}

// Publish numbers e, keeps it in the history and hands it to every
// subscriber whose queue has room. It never blocks on a subscriber.
// Publishing to a closed feed does nothing.
func (f *EventFeed) Publish(e Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.lastID++
	e.ID = f.lastID
	if f.n < len(f.ring) {
		f.ring[(f.start+f.n)%len(f.ring)] = e
		f.n++
	} else {
		f.ring[f.start] = e
		f.start = (f.start + 1) % len(f.ring)
	}
	for s := range f.subs {
		select {
		case s.ch <- e:
		default:
			s.dropped++
		}
	}
}

// Recent returns the kept events with an ID above after, oldest first.
func (f *EventFeed) Recent(after uint64) []Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.recentLocked(after)
}

func (f *EventFeed) recentLocked(after uint64) []Event {
	var out []Event
	for i := range f.n {
		if e := f.ring[(f.start+i)%len(f.ring)]; e.ID > after {
			out = append(out, e)
		}
	}
	return out
}

// Subscribe starts a subscription. Its Backlog holds the kept events with
// an ID above after (0: all of them), and its channel every event
// published from then on, with nothing missed or repeated between the two
// while the subscriber keeps up. On a closed feed the channel is closed at
// once.
func (f *EventFeed) Subscribe(after uint64) *Subscription {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &Subscription{feed: f, ch: make(chan Event, f.queue), backlog: f.recentLocked(after)}
	if f.closed {
		close(s.ch)
		return s
	}
	f.subs[s] = struct{}{}
	return s
}

// Subscribers is the number of open subscriptions.
func (f *EventFeed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Close ends every subscription (their channels are closed) and makes
// Publish do nothing; the Cache closes its feed in Close.
func (f *EventFeed) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.closed = true
	for s := range f.subs {
		close(s.ch)
		delete(f.subs, s)
	}
}

// Subscription is one subscriber's view of an EventFeed.
type Subscription struct {
	feed    *EventFeed
	ch      chan Event // closed by Close or the feed's Close, under feed.mu
	backlog []Event
	dropped uint64 // guarded by feed.mu
}

// Backlog is the kept events the subscription started with, oldest first.
func (s *Subscription) Backlog() []Event { return s.backlog }

// C delivers the events published since Subscribe. It is closed when the
// subscription or the feed is closed.
func (s *Subscription) C() <-chan Event { return s.ch }

// Dropped is how many events this subscriber lost because its queue was
// full.
func (s *Subscription) Dropped() uint64 {
	s.feed.mu.Lock()
	defer s.feed.mu.Unlock()
	return s.dropped
}

// Close ends the subscription and closes its channel. Calling it again
// does nothing.
func (s *Subscription) Close() {
	f := s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[s]; ok {
		delete(f.subs, s)
		close(s.ch)
	}
}

package metrics

import (
	"context"
	"errors"
	"time"

	"github.com/jwtcache/jwtcache/domain"
	"github.com/jwtcache/jwtcache/ports"
)

var (
	_ ports.TokenIssuer   = (*issuer)(nil)
	_ ports.TokenStore    = (*store)(nil)
	_ ports.Pinger        = (*pinger)(nil)
	_ ports.RenewalLocker = (*locker)(nil)
)

// outcome is how one token request ended; its String is the metric label.
type outcome int

const (
	outcomeOK outcome = iota
	outcomeRejected
	outcomeBadResponse
	outcomeUnreachable
	outcomeTimeout
	outcomeCanceled
	// outcomeError is an error outside the TokenIssuer contract, which
	// promises a *domain.TokenServiceError or the context's error.
	outcomeError
	numOutcomes
)

func (o outcome) String() string {
	switch o {
	case outcomeOK:
		return "ok"
	case outcomeRejected:
		return "rejected"
	case outcomeBadResponse:
		return "bad_response"
	case outcomeUnreachable:
		return "unreachable"
	case outcomeTimeout:
		return "timeout"
	case outcomeCanceled:
		return "canceled"
	default:
		return "error"
	}
}

// classify maps an Issue result to its outcome. A TokenServiceError is
// looked at first: a Timeout one wraps context.DeadlineExceeded.
func classify(tok domain.Token, err error) outcome {
	if err == nil {
		if tok.IsZero() {
			return outcomeBadResponse // the core treats an empty token so too
		}
		return outcomeOK
	}
	var tse *domain.TokenServiceError
	switch {
	case errors.As(err, &tse):
		switch tse.Kind {
		case domain.Rejected:
			return outcomeRejected
		case domain.Unreachable:
			return outcomeUnreachable
		case domain.Timeout:
			return outcomeTimeout
		default:
			return outcomeBadResponse
		}
	case errors.Is(err, context.DeadlineExceeded):
		return outcomeTimeout
	case errors.Is(err, context.Canceled):
		return outcomeCanceled
	default:
		return outcomeError
	}
}

// Issuer returns next, counting and timing each Issue call by outcome. A
// call refused because the configuration does not know the service name
// (domain.ErrUnknownService) made no request and is not counted, as the
// core does not count it either. When next is a ports.IssuerProber, so is
// the result, and its probes are not counted.
func (m *Metrics) Issuer(next ports.TokenIssuer) ports.TokenIssuer { return m.decorate(next) }

type issuer struct {
	next ports.TokenIssuer
	m    *Metrics
}

func (i *issuer) Issue(ctx context.Context, service string) (domain.Token, error) {
	start := time.Now()
	tok, err := i.next.Issue(ctx, service)
	if err != nil && errors.Is(err, domain.ErrUnknownService) {
		return tok, err
	}
	o := classify(tok, err)
	i.m.requests[o].Inc()
	i.m.latency[o].Observe(time.Since(start).Seconds())
	return tok, err
}

// operation is a store or locker method; its String is the metric label.
type operation int

const (
	opGet operation = iota
	opPut
	opDelete
	opList
	opPing
	opLock
	opUnlock
	opHeld
	numOperations
)

func (op operation) String() string {
	return [...]string{"get", "put", "delete", "list", "ping", "lock", "unlock", "held"}[op]
}

// failed counts err against op when it is a failure of the store: not a
// missing token, and not a caller that gave up.
func (m *Metrics) failed(op operation, err error) {
	if err == nil || errors.Is(err, domain.ErrNotFound) || errors.Is(err, context.Canceled) {
		return
	}
	m.storeErrors[op].Inc()
}

// Store returns next, counting its failed operations by name. It is only
// a TokenStore, whatever else next is: decorate its locker and pinger with
// Locker and Pinger and pass them to the core as well.
func (m *Metrics) Store(next ports.TokenStore) ports.TokenStore {
	return &store{next: next, m: m}
}

type store struct {
	next ports.TokenStore
	m    *Metrics
}

func (s *store) Get(ctx context.Context, service string) (domain.Token, error) {
	tok, err := s.next.Get(ctx, service)
	s.m.failed(opGet, err)
	return tok, err
}

func (s *store) Put(ctx context.Context, service string, tok domain.Token) error {
	err := s.next.Put(ctx, service, tok)
	s.m.failed(opPut, err)
	return err
}

func (s *store) Delete(ctx context.Context, service string) (bool, error) {
	ok, err := s.next.Delete(ctx, service)
	s.m.failed(opDelete, err)
	return ok, err
}

func (s *store) List(ctx context.Context) ([]ports.Entry, error) {
	all, err := s.next.List(ctx)
	s.m.failed(opList, err)
	return all, err
}

// Pinger returns next, counting its failed pings.
func (m *Metrics) Pinger(next ports.Pinger) ports.Pinger {
	return &pinger{next: next, m: m}
}

type pinger struct {
	next ports.Pinger
	m    *Metrics
}

func (p *pinger) Ping(ctx context.Context) error {
	err := p.next.Ping(ctx)
	p.m.failed(opPing, err)
	return err
}

// Locker returns next, counting the locks acquired, the attempts that
// found a lock held by another renewer, and failed lock, unlock and held
// operations. Wrapping the returned Unlock costs one small allocation per
// acquired lock, that is per token-service call, never per cache hit.
func (m *Metrics) Locker(next ports.RenewalLocker) ports.RenewalLocker {
	return &locker{next: next, m: m}
}

type locker struct {
	next ports.RenewalLocker
	m    *Metrics
}

func (l *locker) TryLock(ctx context.Context, service string, ttl time.Duration) (ports.Unlock, error) {
	unlock, err := l.next.TryLock(ctx, service, ttl)
	switch {
	case err == nil:
		l.m.lockAcquired.Inc()
		m := l.m
		return func(ctx context.Context) error {
			err := unlock(ctx)
			m.failed(opUnlock, err)
			return err
		}, nil
	case errors.Is(err, domain.ErrLockHeld):
		l.m.lockContend.Inc()
	default:
		l.m.failed(opLock, err)
	}
	return unlock, err
}

func (l *locker) Held(ctx context.Context, services []string) ([]bool, error) {
	held, err := l.next.Held(ctx, services)
	l.m.failed(opHeld, err)
	return held, err
}

package devissuer

import (
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Failure is what the token endpoint answers to a request picked to fail by
// FailNext or SetFailRate.
type Failure struct {
	// Status is the HTTP status.
	Status int
	// Error is the RFC 6749 §5.2 error code. Empty means a plain-text body
	// that is not an OAuth2 error, as a proxy in front of a dead service
	// would send.
	Error string
	// Description is the error_description, if any.
	Description string
	// RetryAfter, if positive, is sent as Retry-After (rounded up to whole
	// seconds).
	RetryAfter time.Duration
}

// defaultFailure is the injected failure until SetFailure says otherwise: a
// token service that is down for a moment (503 temporarily_unavailable,
// error_description "injected failure", no Retry-After).
var defaultFailure = Failure{
	Status:      http.StatusServiceUnavailable,
	Error:       "temporarily_unavailable",
	Description: "injected failure",
}

// faults are the fault-injection settings. Each hook affects the requests
// that arrive after it returns.
type faults struct {
	// failNext is how many upcoming requests fail; never negative.
	failNext atomic.Int64

	mu       sync.Mutex
	delay    time.Duration
	failRate float64
	failure  Failure
}

func (f *faults) reset() {
	f.failNext.Store(0)
	f.mu.Lock()
	f.delay, f.failRate, f.failure = 0, 0, defaultFailure
	f.mu.Unlock()
}

// wait applies the delay; false means ctx ended first.
func (f *faults) wait(ctx context.Context) bool {
	f.mu.Lock()
	d := f.delay
	f.mu.Unlock()
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// take reports whether this request fails, and how.
func (f *faults) take() (Failure, bool) {
	for {
		n := f.failNext.Load()
		if n <= 0 {
			break
		}
		if f.failNext.CompareAndSwap(n, n-1) {
			return f.current(), true
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRate > 0 && rand.Float64() < f.failRate {
		return f.failure, true
	}
	return Failure{}, false
}

// peek is take without using up FailNext: a probe sees a token service
// that is failing, but does not take a failure meant for a token request.
func (f *faults) peek() (Failure, bool) {
	if f.failNext.Load() > 0 {
		return f.current(), true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRate > 0 && rand.Float64() < f.failRate {
		return f.failure, true
	}
	return Failure{}, false
}

func (f *faults) current() Failure {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failure
}

// FailNext makes the next n token requests fail with the configured
// Failure (by default 503 temporarily_unavailable), before their credentials are even looked at, as a token service
// that is down would. It replaces any count still pending; n <= 0 cancels.
func (s *Server) FailNext(n int) { s.faults.failNext.Store(int64(max(n, 0))) }

// SetFailRate makes each token request fail with probability p (0 turns it
// off, 1 fails everything). FailNext is applied first.
func (s *Server) SetFailRate(p float64) {
	s.faults.mu.Lock()
	s.faults.failRate = min(max(p, 0), 1)
	s.faults.mu.Unlock()
}

// SetDelay makes every token request wait d before it is answered, or until
// the client hangs up (then it counts as rejected). 0 turns it off.
func (s *Server) SetDelay(d time.Duration) {
	s.faults.mu.Lock()
	s.faults.delay = d
	s.faults.mu.Unlock()
}

// SetFailure sets what failing requests are answered with; a zero Status
// means http.StatusServiceUnavailable.
func (s *Server) SetFailure(f Failure) {
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	s.faults.mu.Lock()
	s.faults.failure = f
	s.faults.mu.Unlock()
}

// ResetFaults turns every fault off and restores the default Failure. The
// counters are left alone.
func (s *Server) ResetFaults() { s.faults.reset() }

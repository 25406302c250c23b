package app

import (
	"context"
	"errors"
	"time"
)

// DefaultHealthCheckInterval is the mean period of the token-service
// probes when Options.HealthCheckInterval is zero (JWT_HEALTH_CHECK_INTERVAL).
const DefaultHealthCheckInterval = 30 * time.Second

// MinHealthCheckInterval is the shortest Options.HealthCheckInterval New
// accepts: probing more often would hammer the token service.
const MinHealthCheckInterval = time.Second

// ErrIssuerDown is wrapped by an Options.IssuerHealth error meaning that no
// token can be obtained (an issuer whose discovery document was never
// fetched, say): the token service is DOWN in Health.
var ErrIssuerDown = errors.New("the token service cannot be used")

// probeLoop probes the token service every HealthCheckInterval, jittered
// by up to a tenth either way so that replicas started together do not
// probe together, until Close. Health compares each outcome with the
// latest real call's by time: whichever is later is the token service's
// state. Probes are not token requests and count in no counter.
func (s *Cache) probeLoop() {
	for {
		d := s.opt.HealthCheckInterval
		d = d - d/10 + time.Duration(float64(d/5)*s.opt.Jitter())
		t := time.NewTimer(d)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		s.probe()
	}
}

// probe runs one probe, bounded by FetchTimeout, and records its outcome.
func (s *Cache) probe() {
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.FetchTimeout)
	defer cancel()
	err := s.opt.Prober.Probe(ctx)
	if s.ctx.Err() != nil {
		return // closing: the cancelled probe says nothing of the token service
	}
	now := s.opt.Clock.Now()
	if err != nil {
		s.probeSeen.Store(&issuerOutcome{ok: false, detail: "probe: " + err.Error(), at: now})
		s.log.Warn("token service probe failed", "err", err)
		return
	}
	s.probeSeen.Store(&issuerOutcome{ok: true, at: now})
}

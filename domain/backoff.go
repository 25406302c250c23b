package domain

import "time"

// MaxRetryAfter is the longest Retry-After jwtcache honours. A token
// service (or a proxy in front of it) that asks for more, by mistake or
// malice, is asked again after this long: one answer must not disable a
// service name for days. Five minutes is longer than any planned pause of
// a token service's rate limit and short enough to recover unattended.
const MaxRetryAfter = 5 * time.Minute

// Backoff is the retry schedule of a failing token request: exponential
// from Min, capped at Max, with jitter over the upper half of each step so
// that replicas failing together do not retry together, and never shorter
// than a Retry-After the token service asked for, up to MaxRetryAfter.
type Backoff struct {
	// Min is the first step; Max caps every step (a Max below Min is Min).
	Min, Max time.Duration
	// MaxRetryAfter caps the Retry-After honoured; 0 means the package's
	// MaxRetryAfter. It never shortens the backoff itself.
	MaxRetryAfter time.Duration
}

// Delay is the wait before retry number attempt (1 for the first), given a
// jitter in [0, 1) and the token service's Retry-After (0 for none): a
// step of min(Min·2^(attempt−1), Max), of which the upper half is scaled
// by jitter, or retryAfter (at most MaxRetryAfter) when that is longer. The caller supplies the
// jitter so that this stays deterministic.
func (b Backoff) Delay(attempt int, jitter float64, retryAfter time.Duration) time.Duration {
	if jitter < 0 {
		jitter = 0
	}
	if jitter >= 1 {
		jitter = 0.999
	}
	limit := max(b.Max, b.Min)
	d := b.Min
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	d = d/2 + time.Duration(float64(d/2)*jitter)
	limitRA := b.MaxRetryAfter
	if limitRA <= 0 {
		limitRA = MaxRetryAfter
	}
	return max(d, min(retryAfter, limitRA))
}
